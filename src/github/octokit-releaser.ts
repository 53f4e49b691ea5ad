// The Releaser over GitHub's REST API with @actions/github's octokit (proxy-aware, GITHUB_API_URL).
// Uploads stream the file from disk to the release's upload_url with an explicit Content-Length.
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { repositoryClient } from './octokit.js'
import {
  assetUploadUrl,
  ReleaseApiError,
  type ApiErrorDetail,
  type AssetFile,
  type NewRelease,
  type Release,
  type ReleaseAsset,
  type ReleaseChanges,
  type Releaser,
  type UploadedAsset
} from './releaser.js'

export interface OctokitReleaserOptions {
  token: string
  /** `owner/name`, as in GITHUB_REPOSITORY. */
  repository: string
  /** REST API root; defaults to GITHUB_API_URL, then https://api.github.com. */
  baseUrl?: string
}

export interface RawAsset {
  id: number
  name: string
  state: string
  size: number
  content_type: string
  browser_download_url: string
  digest?: string | null
}

export interface RawRelease {
  id: number
  tag_name: string
  name: string | null
  draft: boolean
  prerelease: boolean
  immutable?: boolean
  html_url: string
  upload_url: string
  assets: RawAsset[]
}

export function toAsset(raw: RawAsset): ReleaseAsset {
  return {
    id: raw.id,
    name: raw.name,
    state: raw.state,
    size: raw.size,
    contentType: raw.content_type,
    url: raw.browser_download_url,
    digest: raw.digest ?? null
  }
}

export function toRelease(raw: RawRelease): Release {
  return {
    id: raw.id,
    tagName: raw.tag_name,
    name: raw.name,
    draft: raw.draft,
    prerelease: raw.prerelease,
    immutable: raw.immutable === true,
    htmlUrl: raw.html_url,
    uploadUrl: raw.upload_url,
    assets: raw.assets.map(toAsset)
  }
}

/** octokit's RequestError (HttpError) as a ReleaseApiError; anything else unchanged. */
export function apiError(operation: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as { status?: unknown }).status !== 'number') return error
  const { status, response } = error as Error & { status: number; response?: { data?: unknown } }
  if (!response) return new ReleaseApiError(operation, 0, error.message)
  const data = response.data
  if (data && typeof data === 'object' && !(data instanceof ArrayBuffer)) {
    const body = data as { message?: unknown; errors?: unknown; documentation_url?: unknown }
    const errors = Array.isArray(body.errors)
      ? body.errors.map(e => (typeof e === 'string' ? { message: e } : (e as ApiErrorDetail)))
      : []
    return new ReleaseApiError(
      operation,
      status,
      typeof body.message === 'string' ? body.message : '',
      errors,
      typeof body.documentation_url === 'string' ? body.documentation_url : undefined
    )
  }
  const text =
    typeof data === 'string'
      ? data
          .replace(/<[^>]*>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim()
      : ''
  return new ReleaseApiError(operation, status, text.slice(0, 200))
}

export async function call<T>(operation: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request()
  } catch (error) {
    throw apiError(operation, error)
  }
}

/** Read a file in chunks, feeding the hash with exactly what is sent and counting it. */
async function* hashedChunks(
  path: string,
  hash: Hash,
  onSent?: (bytes: number) => void
): AsyncGenerator<Buffer> {
  let sent = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
    yield chunk as Buffer
    // Counted when the next chunk is asked for: once the connection took this one.
    sent += (chunk as Buffer).length
    onSent?.(sent)
  }
}

export function createOctokitReleaser(options: OctokitReleaserOptions): Releaser {
  const { octokit, where } = repositoryClient(options.token, options.repository, options.baseUrl)

  return {
    async findByTag(tag) {
      try {
        const { data } = await octokit.rest.repos.getReleaseByTag({ ...where, tag })
        return toRelease(data as RawRelease)
      } catch (error) {
        if ((error as { status?: unknown }).status !== 404) throw apiError('get release by tag', error)
      }
      // Drafts have no tag yet, so the tag lookup 404s for them: list the releases (drafts included for
      // a token that can push) and look for the tag name.
      return call('list releases', async () => {
        const pages = octokit.paginate.iterator(octokit.rest.repos.listReleases, { ...where, per_page: 100 })
        for await (const page of pages) {
          const hit = (page.data as RawRelease[]).find(release => release.tag_name === tag)
          if (hit) return toRelease(hit)
        }
        return undefined
      })
    },

    async create(release: NewRelease) {
      const { data } = await call('create release', () =>
        octokit.rest.repos.createRelease({
          ...where,
          tag_name: release.tag,
          draft: release.draft,
          prerelease: release.prerelease,
          ...(release.name ? { name: release.name } : {}),
          ...(release.target ? { target_commitish: release.target } : {})
        })
      )
      return toRelease(data as RawRelease)
    },

    async update(releaseId: number, changes: ReleaseChanges) {
      const { data } = await call('update release', () =>
        octokit.rest.repos.updateRelease({
          ...where,
          release_id: releaseId,
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.draft !== undefined ? { draft: changes.draft } : {}),
          ...(changes.prerelease !== undefined ? { prerelease: changes.prerelease } : {}),
          ...(changes.makeLatest !== undefined ? { make_latest: changes.makeLatest } : {})
        })
      )
      return toRelease(data as RawRelease)
    },

    async deleteRelease(releaseId: number) {
      await call('delete release', () =>
        octokit.rest.repos.deleteRelease({ ...where, release_id: releaseId })
      )
    },

    async listAssets(releaseId: number) {
      const assets = await call('list release assets', () =>
        octokit.paginate(octokit.rest.repos.listReleaseAssets, {
          ...where,
          release_id: releaseId,
          per_page: 100
        })
      )
      return (assets as RawAsset[]).map(toAsset)
    },

    async deleteAsset(assetId: number) {
      await call('delete release asset', () =>
        octokit.rest.repos.deleteReleaseAsset({ ...where, asset_id: assetId })
      )
    },

    async uploadAsset(
      release: Release,
      file: AssetFile,
      onSent?: (bytes: number) => void
    ): Promise<UploadedAsset> {
      const hash = createHash('sha256')
      const { data } = await call(`upload ${file.name}`, () =>
        octokit.request({
          method: 'POST',
          url: assetUploadUrl(release.uploadUrl, file.name),
          headers: { 'content-type': file.contentType, 'content-length': file.size },
          // An async iterable body: undici streams it (duplex half) and sends the Content-Length above
          // instead of chunked encoding; it fails the request if the file doesn't match that length.
          data: hashedChunks(file.path, hash, onSent)
        })
      )
      return { ...toAsset(data as RawAsset), sha256: hash.digest('hex') }
    }
  }
}
