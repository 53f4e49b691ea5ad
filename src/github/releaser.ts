// The only seam between the action and GitHub's releases API: publish-release.ts talks to a Releaser,
// octokit-releaser.ts implements it over REST, and the tests drive that implementation against a fake.

export interface ReleaseAsset {
  id: number
  name: string
  /** `uploaded` when complete; `starter` is what an upload that failed with 502 leaves behind. */
  state: string
  size: number
  contentType: string
  /** `browser_download_url`. */
  url: string
  /** `sha256:<hex>` as GitHub computes it on upload (null for assets from before June 2025). */
  digest: string | null
}

export interface Release {
  id: number
  tagName: string
  name: string | null
  draft: boolean
  prerelease: boolean
  /** Set by GitHub when the repository has immutable releases and this release is published. */
  immutable: boolean
  htmlUrl: string
  /** A URI template: `https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}`. */
  uploadUrl: string
  assets: ReleaseAsset[]
}

export interface NewRelease {
  tag: string
  name?: string
  draft: boolean
  prerelease: boolean
  /** Branch or commit the tag is created from when the release is published and the tag doesn't exist. */
  target?: string
}

export type MakeLatest = 'true' | 'false' | 'legacy'

export interface ReleaseChanges {
  name?: string
  draft?: boolean
  prerelease?: boolean
  makeLatest?: MakeLatest
}

export interface AssetFile {
  path: string
  name: string
  contentType: string
  /** Bytes, from stat; sent as Content-Length. */
  size: number
}

export interface UploadedAsset extends ReleaseAsset {
  /** Hex SHA-256 of the bytes actually sent. */
  sha256: string
}

export interface Releaser {
  /** The release for `tag`, drafts included, or undefined. */
  findByTag(tag: string): Promise<Release | undefined>
  create(release: NewRelease): Promise<Release>
  update(releaseId: number, changes: ReleaseChanges): Promise<Release>
  deleteRelease(releaseId: number): Promise<void>
  listAssets(releaseId: number): Promise<ReleaseAsset[]>
  deleteAsset(assetId: number): Promise<void>
  /**
   * Stream `file` from disk to the release's upload_url with an explicit Content-Length; `onSent` is
   * told the bytes handed to the connection so far, as they go.
   */
  uploadAsset(release: Release, file: AssetFile, onSent?: (bytes: number) => void): Promise<UploadedAsset>
}

export interface ApiErrorDetail {
  resource?: string
  code?: string
  field?: string
  message?: string
}

/** A failed GitHub call, whatever the client: status 0 means no HTTP response (connection failed or reset). */
export class ReleaseApiError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly apiMessage: string,
    readonly errors: ApiErrorDetail[] = [],
    readonly documentationUrl?: string
  ) {
    super(
      `${operation}: ${status === 0 ? 'no response' : `HTTP ${status}`}: ${describeApiMessage(apiMessage, errors)}`
    )
    this.name = 'ReleaseApiError'
  }

  /** The message and every detail message, for matching. */
  get text(): string {
    return [this.apiMessage, ...this.errors.map(e => e.message ?? '')].join('\n')
  }
}

function describeApiMessage(message: string, errors: ApiErrorDetail[]): string {
  const details = errors.map(e => e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(' '))
  return [message, ...details].filter(Boolean).join('; ')
}

/**
 * The URL to POST an asset to: the release's `upload_url` without its `{?name,label}` template part, with
 * `name` (and `label`) as query parameters.
 */
export function assetUploadUrl(uploadUrl: string, name: string, label?: string): string {
  const base = uploadUrl.replace(/\{[^}]*\}/g, '')
  const query = [`name=${encodeURIComponent(name)}`]
  if (label) query.push(`label=${encodeURIComponent(label)}`)
  return `${base}${base.includes('?') ? '&' : '?'}${query.join('&')}`
}
