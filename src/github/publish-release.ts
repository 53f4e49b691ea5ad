// Attach the image, SHA256SUMS and the package manifest to a GitHub release. A new release is created as
// a draft and only published once every asset is up (the only order immutable releases allow); an asset
// of the same name is replaced; a failure leaves no draft behind that this run created.
import { statSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log } from '../pipeline/log.js'
import { progressThrottle } from '../pipeline/progress.js'
import {
  ReleaseApiError,
  type AssetFile,
  type MakeLatest,
  type Release,
  type ReleaseAsset,
  type ReleaseChanges,
  type Releaser,
  type UploadedAsset
} from './releaser.js'

/** GitHub: "Each file included in a release must be under 2 GiB." */
export const MAX_ASSET_SIZE = 2 * 1024 ** 3

/** Tries per asset when an upload fails with a 5xx or without a response. */
const TRANSIENT_TRIES = 3

export interface ReleaseFile {
  path: string
  /** Asset name; the file's base name by default. */
  name?: string
  /** Content-Type; application/octet-stream by default. */
  contentType?: string
}

export interface PublishReleaseOptions {
  releaser: Releaser
  tag: string
  /** Release title for a new release (GitHub shows the tag without one); applied to an existing one. */
  name?: string
  /** Leave the release a draft. */
  draft: boolean
  prerelease: boolean
  /** Sent when the release is published or already public; GitHub ignores it for drafts and prereleases. */
  makeLatest?: MakeLatest
  /** Commit or branch for a tag that doesn't exist yet (GitHub creates it when the release is published). */
  target?: string
  files: ReleaseFile[]
  log: Log
  /** Base delay between upload retries (ms); multiplied by the try number. */
  retryDelayMs?: number
}

export interface PublishedAsset {
  name: string
  url: string
  size: number
}

export interface PublishedRelease {
  /** The release's html_url. */
  url: string
  id: number
  draft: boolean
  /** True when this run created the release. */
  created: boolean
  assets: PublishedAsset[]
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

/** Resolve names, content types and sizes; refuse, before any request, what GitHub would refuse. */
export function releaseAssetFiles(files: ReleaseFile[]): AssetFile[] {
  if (files.length === 0) throw new Error('release: no files to upload')
  const assets = files.map(file => {
    let size: number
    try {
      const stat = statSync(file.path)
      if (!stat.isFile()) throw new Error('not a regular file')
      size = stat.size
    } catch (error) {
      throw new Error(`release: can't read ${file.path}: ${(error as Error).message}`)
    }
    const name = file.name ?? path.basename(file.path)
    return { path: file.path, name, contentType: file.contentType ?? 'application/octet-stream', size }
  })
  const seen = new Set<string>()
  for (const asset of assets) {
    if (seen.has(asset.name)) throw new Error(`release: two files would both be the asset ${asset.name}`)
    seen.add(asset.name)
  }
  const tooBig = assets.filter(asset => asset.size >= MAX_ASSET_SIZE)
  if (tooBig.length > 0) {
    const list = tooBig.map(asset => `${asset.name} is ${gib(asset.size)} (${asset.size} bytes)`).join(', ')
    throw new Error(
      `release: ${list}; GitHub refuses release assets of 2 GiB or more, so nothing was uploaded. ` +
        'Make the image smaller: use `format: qcow2` with `compression: zstd` or `zlib` (a raw image is ' +
        'as large as `disk-size`), or install fewer packages.'
    )
  }
  return assets
}

function repoOf(release: { htmlUrl: string } | undefined): string {
  return release ? ` (${release.htmlUrl})` : ''
}

function immutableMessage(tag: string): string {
  return (
    `release: ${tag} is a published immutable release: this repository has immutable releases enabled, ` +
    "so GitHub doesn't let anyone add, replace or delete its assets (only the title, notes and the " +
    'prerelease and latest flags can change). Publish to a new `release-tag` (a new release is uploaded ' +
    'as a draft and published afterwards, which immutable releases allow), or turn immutable releases ' +
    'off in the repository settings for releases published from then on.'
  )
}

/** Turn what GitHub answered into an error that says what to change. */
export function explainReleaseError(error: unknown, tag: string): Error {
  if (!(error instanceof ReleaseApiError)) return error instanceof Error ? error : new Error(String(error))
  const said = error.message
  if (/immutable/i.test(error.text)) {
    if (/tag_name was used by an immutable release/i.test(error.text)) {
      return new Error(
        `release: the tag ${tag} belonged to an immutable release that was deleted, and GitHub never lets ` +
          `such a tag be used again: set \`release-tag\` to a new tag. (${said})`
      )
    }
    return new Error(`${immutableMessage(tag)} (${said})`)
  }
  if (error.status === 401) {
    return new Error(`release: GitHub rejected the token; check \`github-token\`. (${said})`)
  }
  if (error.status === 403 && /rate limit/i.test(error.text)) {
    return new Error(`release: GitHub's API rate limit was hit; retry later. (${said})`)
  }
  if (error.status === 403) {
    return new Error(
      "release: the token can't write this repository's releases. Give the job " +
        '`permissions: contents: write`, or pass a `github-token` with the Contents (read and write) ' +
        `permission. (${said})`
    )
  }
  if (error.status === 404) {
    return new Error(
      "release: GitHub answered 404: the repository doesn't exist or the token can't see it; check " +
        `\`github-token\` and the repository. (${said})`
    )
  }
  return new Error(`release: ${said}`)
}

function isAlreadyExists(error: ReleaseApiError): boolean {
  return error.status === 422 && error.errors.some(e => e.code === 'already_exists')
}

function isTransient(error: ReleaseApiError): boolean {
  return error.status === 0 || error.status >= 500
}

async function deleteAssetsNamed(
  releaser: Releaser,
  releaseId: number,
  name: string,
  log: Log
): Promise<void> {
  for (const asset of await releaser.listAssets(releaseId)) {
    if (asset.name !== name) continue
    log.info(`Deleting the ${asset.state} asset ${asset.name} (${asset.size} bytes)`)
    await releaser.deleteAsset(asset.id)
  }
}

/**
 * A log line per 10 % of `file` sent. A file that goes in one piece gets none: the line announcing the
 * upload says it all.
 */
export function uploadProgress(file: AssetFile, log: Log): (sent: number) => void {
  const due = progressThrottle({ stepPercent: 10 })
  let reported = false
  return sent => {
    const percent = file.size > 0 ? Math.min(100, (sent / file.size) * 100) : 100
    if (percent >= 100 && !reported) return
    if (!due(percent)) return
    reported = true
    log.info(`Uploading ${file.name}: ${Math.floor(percent)}% (${sent} of ${file.size} bytes)`)
  }
}

/**
 * Upload one asset; after a 5xx or a dropped connection (which can leave a `starter` asset), and once
 * after a 422 already_exists (someone uploaded the same name meanwhile), delete what is there and retry.
 */
async function uploadWithRetries(
  releaser: Releaser,
  release: Release,
  file: AssetFile,
  log: Log,
  retryDelayMs: number
): Promise<UploadedAsset> {
  let transientTries = 0
  let raced = false
  for (;;) {
    try {
      return await releaser.uploadAsset(release, file, uploadProgress(file, log))
    } catch (error) {
      if (!(error instanceof ReleaseApiError)) throw error
      if (isAlreadyExists(error) && !raced) {
        raced = true
        log.warning(`${file.name} appeared on the release during the upload; replacing it`)
      } else if (isTransient(error) && ++transientTries < TRANSIENT_TRIES) {
        log.warning(`Uploading ${file.name} failed (${error.message}); retrying`)
        await sleep(retryDelayMs * transientTries)
      } else {
        throw error
      }
      await deleteAssetsNamed(releaser, release.id, file.name, log)
    }
  }
}

function verifyUpload(file: AssetFile, asset: UploadedAsset, log: Log): void {
  if (asset.name !== file.name) {
    log.warning(`GitHub renamed the asset ${file.name} to ${asset.name}`)
  }
  if (asset.size !== file.size) {
    throw new Error(`release: ${file.name}: GitHub stored ${asset.size} bytes, the file has ${file.size}`)
  }
  if (asset.digest && asset.digest !== `sha256:${asset.sha256}`) {
    throw new Error(
      `release: ${file.name}: GitHub's digest ${asset.digest} isn't the sha256 of what was sent`
    )
  }
}

function metadataChanges(release: Release, options: PublishReleaseOptions): ReleaseChanges {
  const changes: ReleaseChanges = {}
  if (options.name && options.name !== release.name) changes.name = options.name
  if (options.prerelease !== release.prerelease) changes.prerelease = options.prerelease
  return changes
}

export async function publishRelease(options: PublishReleaseOptions): Promise<PublishedRelease> {
  const { releaser, tag, log } = options
  if (!tag) throw new Error('release: release-tag is empty')
  const retryDelayMs = options.retryDelayMs ?? 2000
  const files = releaseAssetFiles(options.files)

  let created: Release | undefined
  let release: Release | undefined
  try {
    release = await releaser.findByTag(tag)
    if (release) {
      log.info(`Release ${tag}: ${release.draft ? 'draft' : 'published'}${repoOf(release)}`)
      if (!release.draft && release.immutable) throw new Error(immutableMessage(tag))
      if (!release.draft && options.draft) {
        log.warning(`Release ${tag} is already published; release-draft doesn't turn it back into a draft`)
      }
    } else {
      release = created = await releaser.create({
        tag,
        name: options.name,
        draft: true,
        prerelease: options.prerelease,
        target: options.target
      })
      log.info(`Created draft release ${tag}${repoOf(release)}`)
    }

    const existing = created ? [] : await releaser.listAssets(release.id)
    const uploaded: UploadedAsset[] = []
    for (const file of files) {
      for (const old of existing.filter(asset => asset.name === file.name)) {
        log.info(`Replacing ${old.name} (${old.state}, ${old.size} bytes)`)
        await releaser.deleteAsset(old.id)
      }
      log.info(`Uploading ${file.name} (${file.size} bytes, ${file.contentType})`)
      const asset = await uploadWithRetries(releaser, release, file, log, retryDelayMs)
      verifyUpload(file, asset, log)
      uploaded.push(asset)
    }

    const changes: ReleaseChanges = created ? {} : metadataChanges(release, options)
    if (release.draft && !options.draft) changes.draft = false
    const isPublic = !release.draft || changes.draft === false
    if (options.makeLatest && isPublic) changes.makeLatest = options.makeLatest
    if (Object.keys(changes).length > 0) {
      release = await releaser.update(release.id, changes)
      if (changes.draft === false) log.info(`Published release ${tag}${repoOf(release)}`)
    } else if (release.draft) {
      log.info(`Left release ${tag} a draft${repoOf(release)}`)
    }

    const final = release
    return {
      url: final.htmlUrl,
      id: final.id,
      draft: final.draft,
      created: created !== undefined,
      assets: uploaded.map(asset => {
        // Publishing moves the download URLs from untagged-… to the tag: prefer the latest answer.
        const current: ReleaseAsset = final.assets.find(a => a.id === asset.id) ?? asset
        return { name: current.name, url: current.url, size: current.size }
      })
    }
  } catch (error) {
    if (created) {
      try {
        await releaser.deleteRelease(created.id)
        log.info(`Deleted the draft release ${tag} this run created`)
      } catch (cleanup) {
        log.warning(`Couldn't delete the draft release ${tag} this run created${repoOf(created)}: ${cleanup}`)
      }
    }
    throw explainReleaseError(error, tag)
  }
}
