// Publishing one image file to one or more Glance targets (clouds, regions), all or nothing: in each
// target reuse an identical image from an earlier run, or create a hidden one, upload and verify it;
// only when every target holds a verified image are the new ones promoted (made visible, named); any
// failure deletes the new image in every target. Then the stable name moves and the family rotates.
import { setTimeout as sleep } from 'node:timers/promises'
import type { OpenStackSettings } from './config.js'
import type { UploadProgress } from './http.js'
import { hashFile } from '../util/hash.js'
import { HttpClient, OpenStackError } from './http.js'
import type {
  DiskFormat,
  GlanceAccess,
  GlanceApi,
  Image,
  LocalDigest,
  PatchOperation,
  Visibility
} from './glance.js'
import { connectGlance, Glance, ImageVerificationError, storeList, verifyImage } from './glance.js'
import { keystoneAccess, revokeStoredTokens, type Logger, type TokenSource } from './keystone.js'
import { checkStores, copyIntoStores, missingStores, removeCopies } from './stores.js'

/** Set on every image we create; rotation only ever looks at images carrying it. */
export const FAMILY_PROPERTY = 'arch_image_family'
/** sha256 of the uploaded file (Glance's own os_hash_value is sha512 by default). */
export const SHA256_PROPERTY = 'arch_image_sha256'
/** The GitHub repository that published the image: rotation never crosses repositories. */
export const REPOSITORY_PROPERTY = 'arch_image_repository'
/** Where a Glance without os_hidden keeps a new image until every target verified its own. */
export const STAGING_PREFIX = 'arch-image-staging-'

export type UploadMethod = 'direct' | 'import'
export type RotateAction = 'delete' | 'hide'

export interface PublishRequest {
  glance: GlanceApi
  log: Logger
  file: string
  name: string
  /** Rotation group; stored as the arch_image_family property. */
  family: string
  diskFormat: DiskFormat
  /** Default private. */
  visibility?: Visibility
  minDisk?: number
  minRam?: number
  protected?: boolean
  tags?: string[]
  /** os_distro, hw_* and provenance properties (strings); arch_image_repository scopes rotation. */
  properties?: Record<string, string>
  /** Project ids to share with (visibility shared). */
  shareWith?: string[]
  /** direct: PUT /file (default); import: stage + glance-direct import. */
  uploadMethod?: UploadMethod
  /** Multi-store Glance: import (glance-direct) into every one of these stores, or fail. */
  stores?: string[]
  /** Keep the N newest active images of the family (the new one included); 0/undefined: no rotation. */
  keep?: number
  /** Only say what rotation would delete. */
  rotateDryRun?: boolean
  /** What rotation does with older images (default delete). */
  rotate?: RotateAction
  /** After promotion the new image takes this name; the previous holder gets its date appended. */
  stableName?: string
  /** Fresh images to try after an upload whose connection dropped (default 0). */
  uploadRetries?: number
  retryDelayMs?: number
  /** Digests computed earlier (the build's): saves a read, and the upload checks the file still matches. */
  digest?: Partial<LocalDigest>
  /** Reuse an active image of the same name, family and content (default true). */
  reuse?: boolean
  /** Called as soon as an image exists, before any data moves: register it for cleanup. */
  onCreated?: (imageId: string) => void | Promise<void>
  /** Called when the created image is settled: kept (published) or deleted again after a failure. */
  onSettled?: (imageId: string, kept: boolean) => void | Promise<void>
  onProgress?: (progress: UploadProgress) => void
  progressIntervalMs?: number
  /** How long the image may take to become active after the upload/import (default 30 min). */
  activeTimeoutMs?: number
  assumedMiBPerSecond?: number
  /** Attempts and pause for deleting a failed image while Glance may be restarting. */
  cleanupAttempts?: number
  cleanupDelayMs?: number
}

export interface PublishTarget {
  /** `<cloud>/<region>`: how logs and errors name it. */
  label: string
  glance: GlanceApi
}

export interface TargetsRequest extends Omit<
  PublishRequest,
  'glance' | 'onCreated' | 'onSettled' | 'onProgress'
> {
  targets: PublishTarget[]
  /** Uploads at once (default 3). */
  parallel?: number
  onCreated?: (target: string, imageId: string) => void | Promise<void>
  /**
   * Called before an earlier image is copied into the stores it lacks (copy-image): register the
   * copies for undoing. Settled through onSettled like a created image.
   */
  onCopying?: (target: string, imageId: string, stores: string[]) => void | Promise<void>
  onSettled?: (target: string, imageId: string, kept: boolean) => void | Promise<void>
  onProgress?: (target: string, progress: UploadProgress) => void
}

export interface RotationResult {
  dryRun: boolean
  action: RotateAction
  kept: Image[]
  /** Deleted or hidden (or, in a dry run, to be). */
  deleted: Image[]
  /** Protected images of the family: never counted, never deleted. */
  protectedSkipped: Image[]
  failures: string[]
}

export interface PublishResult {
  image: Image
  reused: boolean
  digest: LocalDigest
  rotation?: RotationResult
  /** Images that held the stable name before, renamed `<stable-name> (<date>)`. */
  renamed?: Image[]
}

export interface TargetResult extends Omit<PublishResult, 'digest'> {
  label: string
}

export interface TargetsResult {
  digest: LocalDigest
  targets: TargetResult[]
}

export function validatePublishRequest(
  request: Omit<PublishRequest, 'glance' | 'onCreated' | 'onSettled' | 'onProgress'>
): string[] {
  const problems: string[] = []
  if (!request.name.trim()) problems.push('the image name is empty')
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(request.family)) {
    problems.push(`image family '${request.family}' must be 1-128 letters, digits, '.', '_' or '-'`)
  }
  if (request.keep !== undefined && (!Number.isInteger(request.keep) || request.keep < 0)) {
    problems.push(`keep must be a whole number >= 0, not ${request.keep}`)
  }
  if (request.shareWith && request.shareWith.length > 0 && request.visibility !== 'shared') {
    problems.push(`share-with needs visibility shared (it is ${request.visibility ?? 'private'})`)
  }
  for (const key of Object.keys(request.properties ?? {})) {
    if (key === FAMILY_PROPERTY || key === SHA256_PROPERTY)
      problems.push(`property ${key} is set by arch-image`)
  }
  return problems
}

function matchesContent(image: Image, digest: LocalDigest): boolean {
  if (image.size !== null && image.size !== undefined && image.size !== digest.size) return false
  if (image.os_hash_algo === 'sha512' && image.os_hash_value) return image.os_hash_value === digest.sha512
  if (image.os_hash_algo === 'sha256' && image.os_hash_value) return image.os_hash_value === digest.sha256
  return image[SHA256_PROPERTY] === digest.sha256
}

async function ensureShared(glance: GlanceApi, image: Image, projects: string[], log: Logger): Promise<void> {
  if (projects.length === 0) return
  const members = new Set((await glance.listMembers(image.id)).map(member => member.member_id))
  for (const project of projects) {
    if (members.has(project)) continue
    await glance.addMember(image.id, project)
    log.info(`Glance: shared image ${image.id} with project ${project} (it must accept the image to list it)`)
  }
}

async function deleteWithRetries(
  glance: GlanceApi,
  id: string,
  attempts: number,
  delayMs: number,
  log: Logger
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await glance.deleteImage(id)
      log.info(`Glance: deleted the unfinished image ${id}`)
      return true
    } catch (error) {
      if (attempt >= attempts) {
        log.warning(`Glance: could not delete the unfinished image ${id}: ${(error as Error).message}`)
        return false
      }
      await new Promise(resolve => setTimeout(resolve, delayMs))
    }
  }
}

/** A target that did not finish because another one failed first: never reported as a cause. */
export class TargetCancelled extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TargetCancelled'
  }
}

/**
 * Run `work` over `items`, at most `limit` at once. After a failure no new item starts, and
 * `onFailure` hears of it at once (to cancel the items still running).
 */
async function bounded<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
  onFailure: (error: unknown) => void = () => undefined
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      if (failed) {
        results[index] = {
          status: 'rejected',
          reason: new TargetCancelled('not started: another target failed')
        }
        continue
      }
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index] as T) }
      } catch (error) {
        results[index] = { status: 'rejected', reason: error }
        if (!failed && !(error instanceof TargetCancelled)) onFailure(error)
        failed = true
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return results
}

/** A connection that dropped while the data was on its way: worth a fresh image. */
function droppedConnection(error: unknown): boolean {
  if (error instanceof OpenStackError) return error.isNetwork
  const code = (error as NodeJS.ErrnoException).code
  return code !== undefined && ['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT'].includes(code)
}

/** Where a target stands after the first phase. */
interface Prepared {
  target: PublishTarget
  owner: string | undefined
  image: Image
  reused: boolean
  /** Created hidden (os_hidden) rather than under a staging name. */
  hidden: boolean
  /** A reused image this run copied into these stores (copy-image): undone on failure. */
  copiedTo?: string[]
}

/**
 * Publish `file` as image `name` to one Glance. Idempotent: an active image of the same name and
 * family with the same content is reused (no upload). See publishToTargets.
 */
export async function publishImage(request: PublishRequest): Promise<PublishResult> {
  const { glance, onCreated, onSettled, onProgress, ...rest } = request
  const result = await publishToTargets({
    ...rest,
    targets: [{ label: '', glance }],
    ...(onCreated ? { onCreated: (_target, id) => onCreated(id) } : {}),
    ...(onSettled ? { onSettled: (_target, id, kept) => onSettled(id, kept) } : {}),
    ...(onProgress ? { onProgress: (_target, progress) => onProgress(progress) } : {})
  })
  const only = result.targets[0] as TargetResult
  return {
    image: only.image,
    reused: only.reused,
    digest: result.digest,
    ...(only.rotation ? { rotation: only.rotation } : {}),
    ...(only.renamed ? { renamed: only.renamed } : {})
  }
}

/**
 * Publish to every target, all or nothing. New images are created hidden (or, where Glance lacks
 * os_hidden, private under a staging name) and registered for deletion the moment they exist; they
 * are promoted only once every target verified its own, and settled only once all are promoted. Any
 * failure deletes every new image and names the target. Stable name and rotation follow; their
 * failures are warnings.
 */
export async function publishToTargets(request: TargetsRequest): Promise<TargetsResult> {
  const { log } = request
  const problems = validatePublishRequest(request)
  if (request.targets.length === 0) problems.push('no target to publish to')
  if (problems.length > 0) throw new Error(`cannot publish: ${problems.join('; ')}`)
  const digest = await localDigest(request)
  const named = (label: string, text: string): string =>
    label ? `Glance ${label}: ${text}` : `Glance: ${text}`

  // the first target to fail cancels the uploads still running elsewhere (before its own cleanup,
  // which may wait for a Glance to come back): their images go anyway
  const cancel = new AbortController()
  const cancelOthers = (): void => cancel.abort(new TargetCancelled('cancelled: another target failed'))
  const phase = await bounded(
    request.targets,
    request.parallel ?? 3,
    target => prepareTarget(request, target, digest, { signal: cancel.signal, failing: cancelOthers }),
    cancelOthers
  )
  const prepared = phase.flatMap(result => (result.status === 'fulfilled' ? [result.value] : []))
  const failures = phase.flatMap((result, index) =>
    result.status === 'rejected'
      ? [{ label: request.targets[index]?.label ?? '', error: result.reason as Error }]
      : []
  )
  const fresh = prepared.filter(entry => !entry.reused)
  const copied = prepared.filter(entry => entry.copiedTo)
  const rollback = async (): Promise<void> => {
    for (const entry of copied) {
      const { glance, label } = entry.target
      const undone = await removeCopies(glance, entry.image.id, entry.copiedTo ?? [], labelled(log, label))
      if (undone) await request.onSettled?.(label, entry.image.id, false)
    }
    for (const entry of fresh) {
      const deleted = await deleteWithRetries(
        entry.target.glance,
        entry.image.id,
        request.cleanupAttempts ?? 12,
        request.cleanupDelayMs ?? 5000,
        log
      )
      if (deleted) await request.onSettled?.(entry.target.label, entry.image.id, false)
    }
  }
  const fail = async (label: string, error: Error, stage: string): Promise<never> => {
    if (fresh.length > 0) log.warning(`Glance: deleting the new image in ${fresh.length} other target(s)`)
    await rollback()
    if (request.targets.length === 1) throw error
    const real = failures.filter(failure => !(failure.error instanceof TargetCancelled))
    const causes = real.length > 0 ? real : [{ label, error }]
    throw new Error(
      `${stage} ${causes.map(failure => `${failure.label}: ${failure.error.message}`).join('; ')}` +
        ' (no target keeps the new image; older images are untouched)',
      { cause: error }
    )
  }
  const firstFailure = failures.find(failure => !(failure.error instanceof TargetCancelled)) ?? failures[0]
  if (firstFailure) return fail(firstFailure.label, firstFailure.error, 'publishing to Glance failed at')

  for (const entry of fresh) {
    try {
      entry.image = await promote(request, entry)
      log.info(
        named(
          entry.target.label,
          `image ${entry.image.id} promoted (${entry.image.name}, ${entry.image.visibility})`
        )
      )
    } catch (error) {
      failures.push({ label: entry.target.label, error: error as Error })
      return fail(entry.target.label, error as Error, 'promoting the verified images failed at')
    }
  }
  for (const entry of [...fresh, ...copied])
    await request.onSettled?.(entry.target.label, entry.image.id, true)

  const results: TargetResult[] = []
  for (const entry of prepared) {
    const { glance } = entry.target
    const renamed = request.stableName ? await passStableName(request, entry) : undefined
    let rotation: RotationResult | undefined
    if (request.keep && request.keep > 0) {
      rotation = await rotateImages(glance, {
        family: request.family,
        keep: request.keep,
        current: entry.image,
        dryRun: request.rotateDryRun ?? false,
        action: request.rotate ?? 'delete',
        repository: request.properties?.[REPOSITORY_PROPERTY],
        log
      })
    }
    results.push({
      label: entry.target.label,
      image: entry.image,
      reused: entry.reused,
      ...(rotation ? { rotation } : {}),
      ...(renamed ? { renamed } : {})
    })
  }
  return { digest, targets: results }
}

async function localDigest(request: TargetsRequest): Promise<LocalDigest> {
  const given = request.digest ?? {}
  if (given.sha256 && given.sha512 && given.size !== undefined) {
    return { size: given.size, sha256: given.sha256, sha512: given.sha512 }
  }
  const digest = await hashFile(request.file)
  for (const key of ['sha256', 'sha512', 'size'] as const) {
    if (given[key] !== undefined && given[key] !== digest[key]) {
      throw new Error(`${request.file} does not match its recorded ${key} (${String(given[key])})`)
    }
  }
  return digest
}

/** The first phase in one target: an identical image to reuse, or a new one uploaded and verified. */
async function prepareTarget(
  request: TargetsRequest,
  target: PublishTarget,
  digest: LocalDigest,
  cancel: { signal: AbortSignal; failing: () => void }
): Promise<Prepared> {
  const { signal } = cancel
  const { glance } = target
  const log = labelled(request.log, target.label)
  if (request.stores?.length) await checkStores(glance, request.stores, target.label)
  const owner = await glance.projectId()
  if (request.reuse !== false) {
    const { ready, copyable, others, names } = await reusable(request, glance, owner, digest)
    if (ready) {
      log.info(`image ${ready.id} (${ready.name}) already holds these bytes; not uploading again`)
      await ensureShared(glance, ready, request.shareWith ?? [], log)
      return { target, owner, image: ready, reused: true, hidden: false }
    }
    if (copyable) {
      const stores = missingStores(copyable, request.stores)
      const copied = await copyIntoStores(glance, copyable, stores, {
        label: target.label,
        log,
        timeoutMs: request.activeTimeoutMs ?? 30 * 60_000,
        ...(request.onCopying ? { onCopying: request.onCopying } : {}),
        ...(request.onSettled ? { onSettled: request.onSettled } : {})
      })
      if (copied) {
        await ensureShared(glance, copied, request.shareWith ?? [], log)
        return { target, owner, image: copied, reused: true, hidden: false, copiedTo: stores }
      }
    }
    if (others.length > 0) {
      log.info(
        `${others.length} other image(s) named ${names.join(' or ')} exist in family ${request.family} ` +
          `(${others.map(candidate => `${candidate.id} ${candidate.status}`).join(', ')}); creating a new one`
      )
    }
  }
  const hidden = await glance.supportsHidden()
  if (!hidden) {
    log.warning(
      `this Glance has no os_hidden (image API < 2.7): the new image waits as private ${STAGING_PREFIX}${request.name} until every target verified it`
    )
  }
  const retries = request.uploadRetries ?? 0
  for (let attempt = 0; ; attempt++) {
    const final = (error: unknown): boolean =>
      attempt >= retries || signal.aborted || !droppedConnection(error)
    try {
      const image = await createAndUpload(request, target, digest, hidden, {
        signal,
        failing: error => {
          if (final(error)) cancel.failing()
        }
      })
      return { target, owner, image, reused: false, hidden }
    } catch (error) {
      if (final(error)) throw error
      log.warning(
        `the upload failed (${(error as Error).message}); trying again on a fresh image (retry ${attempt + 1} of ${retries})`
      )
      await sleep(request.retryDelayMs ?? 2000, undefined, { signal }).catch(() => {
        throw signal.reason as Error
      })
    }
  }
}

/**
 * Earlier images of this name (or the stable name) and family in our project: one that holds these
 * bytes in every requested store (`ready`), else one that holds them in fewer (`copyable`).
 */
async function reusable(
  request: TargetsRequest,
  glance: GlanceApi,
  owner: string | undefined,
  digest: LocalDigest
): Promise<{ ready?: Image; copyable?: Image; others: Image[]; names: string[] }> {
  const names = [request.name, ...(request.stableName ? [request.stableName] : [])]
  const family = await glance.listImages({
    visibility: 'all',
    ...(owner ? { owner } : {}),
    properties: { [FAMILY_PROPERTY]: request.family },
    sort: 'created_at:desc'
  })
  const others = family.filter(
    candidate =>
      names.includes(candidate.name ?? '') &&
      candidate[FAMILY_PROPERTY] === request.family &&
      (!owner || candidate.owner === owner)
  )
  const holding = others.filter(
    candidate => candidate.status === 'active' && matchesContent(candidate, digest)
  )
  const ready = holding.find(candidate => missingStores(candidate, request.stores).length === 0)
  return { ...(ready ? { ready } : { copyable: holding[0] }), others, names }
}

/** Messages prefixed with the target (when there are several). */
function labelled(log: Logger, label: string): Logger {
  const prefix = label ? `Glance ${label}: ` : 'Glance: '
  return { info: message => log.info(prefix + message), warning: message => log.warning(prefix + message) }
}

/** Create the image (hidden or staged, private, unprotected), upload, verify; deleted again on failure. */
async function createAndUpload(
  request: TargetsRequest,
  target: PublishTarget,
  digest: LocalDigest,
  hidden: boolean,
  cancel: { signal: AbortSignal; failing: (error: unknown) => void }
): Promise<Image> {
  const { signal } = cancel
  const { glance } = target
  const log = labelled(request.log, target.label)
  const stores = request.stores ?? []
  // stores are reached through the import flow only
  const method = stores.length > 0 ? 'import' : (request.uploadMethod ?? 'direct')
  if (method === 'import') {
    const methods = await glance.importMethods()
    if (!methods.includes('glance-direct')) {
      throw new Error(
        `Glance does not offer the glance-direct import method (it offers: ${methods.join(', ') || 'none'}); ` +
          `use upload-method direct`
      )
    }
  }
  const name = hidden ? request.name : `${STAGING_PREFIX}${request.name}`
  signal.throwIfAborted()
  const created = await glance.createImage({
    name,
    diskFormat: request.diskFormat,
    containerFormat: 'bare',
    visibility: 'private',
    ...(hidden ? { hidden: true } : {}),
    ...(request.minDisk !== undefined ? { minDisk: request.minDisk } : {}),
    ...(request.minRam !== undefined ? { minRam: request.minRam } : {}),
    ...(request.tags ? { tags: request.tags } : {}),
    properties: { ...request.properties, [FAMILY_PROPERTY]: request.family, [SHA256_PROPERTY]: digest.sha256 }
  })
  log.info(`created image ${created.id} (${name}, private${hidden ? ', hidden until promoted' : ''})`)
  try {
    await request.onCreated?.(target.label, created.id)
    const onProgress = request.onProgress
    const uploadOptions = {
      expected: digest,
      signal,
      ...(onProgress ? { onProgress: (progress: UploadProgress) => onProgress(target.label, progress) } : {}),
      ...(request.progressIntervalMs ? { progressIntervalMs: request.progressIntervalMs } : {}),
      ...(request.assumedMiBPerSecond ? { assumedMiBPerSecond: request.assumedMiBPerSecond } : {})
    }
    const waitOptions = { timeoutMs: request.activeTimeoutMs ?? 30 * 60_000, signal }
    let sent: LocalDigest
    if (method === 'import') {
      sent = await glance.stageFile(created.id, request.file, uploadOptions)
      await glance.importImage(created.id, 'glance-direct', stores.length > 0 ? { stores } : {})
      log.info(
        `importing image ${created.id} (glance-direct${stores.length > 0 ? ` into ${stores.join(', ')}, all must succeed` : ''})`
      )
    } else {
      sent = await glance.uploadFile(created.id, request.file, uploadOptions)
    }
    const image = await glance.waitForStatus(created.id, 'active', waitOptions)
    if (!verifyImage(image, sent, log) && sent.hashedWhileSending === false) {
      // nothing proved the file still holds the build's bytes: read it once more
      const now = await hashFile(request.file)
      if (now.sha512 !== digest.sha512) {
        throw new ImageVerificationError(
          `${request.file} changed since it was hashed: sha512 ${now.sha512}, expected ${digest.sha512}`
        )
      }
    }
    const missing = missingStores(image, stores)
    if (missing.length > 0) {
      throw new Error(
        `image ${image.id} is active but not in store(s) ${missing.join(', ')} (its stores: ${storeList(image.stores).join(', ') || 'none'})`
      )
    }
    log.info(
      `image ${image.id} is active${stores.length > 0 ? ` in ${stores.join(', ')}` : ''}; ${image.os_hash_algo ?? 'hash'} and size match what we sent`
    )
    return image
  } catch (error) {
    cancel.failing(error)
    log.warning(
      error instanceof TargetCancelled
        ? `${error.message}: stopped image ${created.id}; deleting it`
        : `publishing image ${created.id} failed; deleting it`
    )
    const deleted = await deleteWithRetries(
      glance,
      created.id,
      request.cleanupAttempts ?? 12,
      request.cleanupDelayMs ?? 5000,
      request.log
    )
    if (deleted) await request.onSettled?.(target.label, created.id, false)
    throw error
  }
}

/** Make a verified new image what users see: unhidden, its final name, visibility, sharing, protection. */
async function promote(request: TargetsRequest, entry: Prepared): Promise<Image> {
  const { glance } = entry.target
  const operations: PatchOperation[] = []
  const finalName = request.stableName ?? request.name
  if (entry.image.name !== finalName) operations.push({ op: 'replace', path: '/name', value: finalName })
  if (entry.hidden) operations.push({ op: 'replace', path: '/os_hidden', value: false })
  const visibility = request.visibility ?? 'private'
  if (visibility !== 'private') operations.push({ op: 'replace', path: '/visibility', value: visibility })
  if (request.protected) operations.push({ op: 'replace', path: '/protected', value: true })
  const image = operations.length > 0 ? await glance.updateImage(entry.image.id, operations) : entry.image
  await ensureShared(glance, image, request.shareWith ?? [], labelled(request.log, entry.target.label))
  return image
}

/** The date part of an image's created_at, for `<stable-name> (<date>)`. */
function createdDate(image: Image): string {
  return /^\d{4}-\d{2}-\d{2}/.exec(image.created_at)?.[0] ?? image.created_at
}

/**
 * The new image holds the stable name now: rename the earlier holders of this family and repository
 * in this project to `<stable-name> (<date>)`. Failures are warnings.
 */
async function passStableName(request: TargetsRequest, entry: Prepared): Promise<Image[]> {
  const stableName = request.stableName as string
  const { glance } = entry.target
  const log = labelled(request.log, entry.target.label)
  const renamed: Image[] = []
  try {
    const holders = (
      await glance.listImages({
        name: stableName,
        visibility: 'all',
        ...(entry.owner ? { owner: entry.owner } : {}),
        properties: { [FAMILY_PROPERTY]: request.family }
      })
    ).filter(image =>
      inScope(image, request.family, request.properties?.[REPOSITORY_PROPERTY], entry.owner, entry.image)
    )
    for (const holder of holders) {
      if (holder.name !== stableName) continue
      const name = `${stableName} (${createdDate(holder)})`
      try {
        renamed.push(await glance.updateImage(holder.id, [{ op: 'replace', path: '/name', value: name }]))
        log.info(`image ${holder.id} held the name ${stableName}; renamed ${name}`)
      } catch (error) {
        log.warning(`could not rename image ${holder.id} to ${name}: ${(error as Error).message}`)
      }
    }
  } catch (error) {
    log.warning(`could not look for earlier holders of ${stableName}: ${(error as Error).message}`)
  }
  return renamed
}

/**
 * Rotation scope: this family, this repository (both unset counts as the same), this project; never
 * the current image and never one created after it (a concurrent run's).
 */
function inScope(
  image: Image,
  family: string,
  repository: string | undefined,
  owner: string | undefined,
  current: Image | undefined
): boolean {
  if (image[FAMILY_PROPERTY] !== family) return false
  if ((image[REPOSITORY_PROPERTY] ?? undefined) !== repository) return false
  if (owner && image.owner !== owner) return false
  if (!current) return true
  if (image.id === current.id) return false
  const after = Date.parse(image.created_at) - Date.parse(current.created_at)
  return !(after > 0)
}

export interface RotateOptions {
  family: string
  keep: number
  /** The image just published: always kept and counted first; images created after it are left alone. */
  current?: Image
  dryRun: boolean
  /** delete (default) or hide (os_hidden) the older images. */
  action?: RotateAction
  /** Only images with this arch_image_repository (undefined: only images without one). */
  repository?: string
  log: Logger
}

function newestFirst(current?: Image) {
  return (a: Image, b: Image): number => {
    if (current && a.id === current.id) return -1
    if (current && b.id === current.id) return 1
    const byDate = Date.parse(b.created_at) - Date.parse(a.created_at)
    if (byDate !== 0 && !Number.isNaN(byDate)) return byDate
    // created_at has one-second resolution: names usually carry a date or a run number
    const byName = (b.name ?? '').localeCompare(a.name ?? '', 'en', { numeric: true })
    return byName !== 0 ? byName : b.id.localeCompare(a.id)
  }
}

/**
 * Keep the `keep` newest active images of the family and repository in our project and delete (or
 * hide) the rest. Images without our family property, of another repository, protected, of other
 * projects, not active (another run may still be uploading), hidden already, or created after the
 * current image (another run's) are never touched.
 */
export async function rotateImages(glance: GlanceApi, options: RotateOptions): Promise<RotationResult> {
  const { log } = options
  const action = options.action ?? 'delete'
  if (!Number.isInteger(options.keep) || options.keep < 1)
    throw new Error(`keep must be >= 1, not ${options.keep}`)
  const owner = await glance.projectId()
  const listed = await glance.listImages({
    properties: {
      [FAMILY_PROPERTY]: options.family,
      ...(options.repository ? { [REPOSITORY_PROPERTY]: options.repository } : {})
    },
    status: 'active',
    visibility: 'all',
    ...(owner ? { owner } : {}),
    sort: 'created_at:desc'
  })
  // Trust no filter blindly: a Glance that ignored one must not make us delete foreign images.
  const family = listed.filter(
    image =>
      image.status === 'active' &&
      image.os_hidden !== true &&
      inScope(image, options.family, options.repository, owner, options.current)
  )
  if (options.current) family.push(options.current)
  const protectedSkipped = family.filter(image => image.protected && image.id !== options.current?.id)
  const rotating = family
    .filter(image => !image.protected || image.id === options.current?.id)
    .sort(newestFirst(options.current))
  const kept = rotating.slice(0, options.keep)
  const doomed = rotating.slice(options.keep)

  const result: RotationResult = {
    dryRun: options.dryRun,
    action,
    kept,
    deleted: [],
    protectedSkipped,
    failures: []
  }
  const label = (image: Image): string => `${image.id} (${image.name ?? ''}, ${image.created_at})`
  const verb = action === 'hide' ? 'hid' : 'deleted'
  log.info(
    `Rotation of family ${options.family}${options.repository ? ` of ${options.repository}` : ''}: keeping ${kept.length} of ${rotating.length} (keep ${options.keep})` +
      (protectedSkipped.length > 0 ? `; ${protectedSkipped.length} protected image(s) left alone` : '')
  )
  if (action === 'hide' && doomed.length > 0 && !options.dryRun && !(await glance.supportsHidden())) {
    const message = `Rotation: this Glance has no os_hidden (image API < 2.7); ${doomed.length} older image(s) left visible`
    log.warning(message)
    result.failures.push(message)
    return result
  }
  for (const image of doomed) {
    if (options.dryRun) {
      log.info(`Rotation (dry run): would ${action} ${label(image)}`)
      result.deleted.push(image)
      continue
    }
    try {
      if (action === 'hide')
        await glance.updateImage(image.id, [{ op: 'replace', path: '/os_hidden', value: true }])
      else await glance.deleteImage(image.id)
      log.info(`Rotation: ${verb} ${label(image)}`)
      result.deleted.push(image)
    } catch (error) {
      const message = `Rotation: could not ${action} ${label(image)}: ${(error as Error).message}`
      log.warning(message)
      result.failures.push(message)
    }
  }
  return result
}

export interface ImagePropertiesOptions {
  firmware?: 'bios' | 'uefi' | 'hybrid'
}

/** The properties Nova reads to boot an Arch cloud image well (virtio-scsi with discard, guest agent). */
export function archImageProperties(options: ImagePropertiesOptions = {}): Record<string, string> {
  return {
    os_distro: 'arch',
    os_type: 'linux',
    architecture: 'x86_64',
    hw_disk_bus: 'scsi',
    hw_scsi_model: 'virtio-scsi',
    hw_qemu_guest_agent: 'yes',
    hw_machine_type: 'q35',
    ...(options.firmware === 'uefi' ? { hw_firmware_type: 'uefi' } : {}),
    ...(options.firmware === 'bios' ? { hw_firmware_type: 'bios' } : {})
  }
}

/** What a run left unsettled in one Glance: an image it created, or copies it made (`stores`). */
export interface Unsettled {
  imageId: string
  /** Set: the image was there before; only its copies into these stores are the run's. */
  stores?: string[]
}

/** Delete an unsettled image, or take an earlier image out of the stores the run copied it into. */
export async function undoUnsettled(glance: GlanceApi, unsettled: Unsettled, log: Logger): Promise<void> {
  const { imageId, stores } = unsettled
  if (stores) {
    if (!(await removeCopies(glance, imageId, stores, labelled(log, '')))) {
      throw new Error(`could not take Glance image ${imageId} out of store(s) ${stores.join(', ')} again`)
    }
    return
  }
  const existed = await glance.deleteImage(imageId)
  log.info(
    existed ? `Glance: deleted unfinished image ${imageId}` : `Glance: image ${imageId} is already gone`
  )
}

/** A stored token Glance refused: there are no credentials here to get another one. */
class StoredTokenRefused extends Error {}

/**
 * For the post step: delete an image a killed run created but never settled, with the token the run
 * stored. 'refused' when Glance no longer takes that token (expired, revoked); other failures throw.
 */
export async function deleteWithStoredToken(
  access: GlanceAccess,
  unsettled: Unsettled,
  log: Logger
): Promise<'deleted' | 'refused'> {
  const stored: TokenSource = {
    token: async () => access.token,
    reauthenticate: async reason => {
      throw new StoredTokenRefused(reason)
    },
    projectId: async () => undefined
  }
  const http = new HttpClient(access)
  try {
    await undoUnsettled(new Glance(stored, access.endpoint, http, log), unsettled, log)
    return 'deleted'
  } catch (error) {
    if (error instanceof StoredTokenRefused) return 'refused'
    throw error
  } finally {
    http.close()
  }
}

/**
 * For the post step: delete an unsettled image with credentials (see onCreated/onSettled), then revoke
 * the tokens this took. Never throws; true when the image is gone.
 */
export async function deleteUnsettledImage(
  settings: OpenStackSettings,
  unsettled: Unsettled,
  log: Logger
): Promise<boolean> {
  const { imageId } = unsettled
  let connection
  let tokens: readonly string[] = []
  try {
    connection = await connectGlance(settings, log, { onTokens: issued => (tokens = issued) })
    await undoUnsettled(connection.glance, unsettled, log)
    return true
  } catch (error) {
    log.warning(`Glance: could not delete unfinished image ${imageId}: ${(error as Error).message}`)
    return false
  } finally {
    connection?.close()
    await revokeStoredTokens(keystoneAccess(settings), tokens, log)
  }
}
