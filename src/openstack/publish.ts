// Publishing one image file to Glance: reuse an identical image from an earlier run, or create,
// upload, verify and share a new one (deleting it again on any failure), then rotate the family.
import type { OpenStackSettings } from './config.js'
import type { UploadProgress } from './http.js'
import { hashFile } from '../util/hash.js'
import { HttpClient } from './http.js'
import type { DiskFormat, GlanceAccess, GlanceApi, Image, LocalDigest, Visibility } from './glance.js'
import { connectGlance, Glance, ImageVerificationError, verifyImage } from './glance.js'
import { keystoneAccess, revokeStoredTokens, type Logger, type TokenSource } from './keystone.js'

/** Set on every image we create; rotation only ever looks at images carrying it. */
export const FAMILY_PROPERTY = 'arch_image_family'
/** sha256 of the uploaded file (Glance's own os_hash_value is sha512 by default). */
export const SHA256_PROPERTY = 'arch_image_sha256'

export type UploadMethod = 'direct' | 'import'

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
  /** os_distro, hw_* and provenance properties (strings). */
  properties?: Record<string, string>
  /** Project ids to share with (visibility shared). */
  shareWith?: string[]
  /** direct: PUT /file (default); import: stage + glance-direct import. */
  uploadMethod?: UploadMethod
  /** Keep the N newest active images of the family (the new one included); 0/undefined: no rotation. */
  keep?: number
  /** Only say what rotation would delete. */
  rotateDryRun?: boolean
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

export interface RotationResult {
  dryRun: boolean
  kept: Image[]
  /** Deleted (or, in a dry run, to be deleted). */
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
}

export function validatePublishRequest(request: PublishRequest): string[] {
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

/**
 * Publish `file` as image `name`. Idempotent: an active image of the same name and family with the same
 * content is reused (no upload). A new image is deleted again when anything fails before it is verified
 * and shared. Rotation (keep) runs only once the image is active, and its failures are warnings.
 */
export async function publishImage(request: PublishRequest): Promise<PublishResult> {
  const { glance, log } = request
  const problems = validatePublishRequest(request)
  if (problems.length > 0) throw new Error(`cannot publish: ${problems.join('; ')}`)

  const given = request.digest ?? {}
  let digest: LocalDigest
  if (given.sha256 && given.sha512 && given.size !== undefined) {
    digest = { size: given.size, sha256: given.sha256, sha512: given.sha512 }
  } else {
    digest = await hashFile(request.file)
    for (const key of ['sha256', 'sha512', 'size'] as const) {
      if (given[key] !== undefined && given[key] !== digest[key]) {
        throw new Error(`${request.file} does not match its recorded ${key} (${String(given[key])})`)
      }
    }
  }
  const owner = await glance.projectId()

  let image: Image | undefined
  let reused = false
  if (request.reuse !== false) {
    const sameName = await glance.listImages({
      name: request.name,
      visibility: 'all',
      ...(owner ? { owner } : {}),
      properties: { [FAMILY_PROPERTY]: request.family },
      sort: 'created_at:desc'
    })
    const candidates = sameName.filter(
      candidate =>
        candidate.name === request.name &&
        candidate[FAMILY_PROPERTY] === request.family &&
        (!owner || candidate.owner === owner)
    )
    image = candidates.find(candidate => candidate.status === 'active' && matchesContent(candidate, digest))
    if (image) {
      reused = true
      log.info(`Glance: image ${image.id} (${request.name}) already holds these bytes; not uploading again`)
      await ensureShared(glance, image, request.shareWith ?? [], log)
    } else if (candidates.length > 0) {
      log.info(
        `Glance: ${candidates.length} other image(s) named ${request.name} exist in family ${request.family} ` +
          `(${candidates.map(candidate => `${candidate.id} ${candidate.status}`).join(', ')}); creating a new one`
      )
    }
  }

  if (!image) image = await createAndUpload(request, digest)

  let rotation: RotationResult | undefined
  if (request.keep && request.keep > 0) {
    rotation = await rotateImages(glance, {
      family: request.family,
      keep: request.keep,
      current: image,
      dryRun: request.rotateDryRun ?? false,
      log
    })
  }
  return { image, reused, digest, ...(rotation ? { rotation } : {}) }
}

async function createAndUpload(request: PublishRequest, digest: LocalDigest): Promise<Image> {
  const { glance, log } = request
  const method = request.uploadMethod ?? 'direct'
  if (method === 'import') {
    const methods = await glance.importMethods()
    if (!methods.includes('glance-direct')) {
      throw new Error(
        `Glance does not offer the glance-direct import method (it offers: ${methods.join(', ') || 'none'}); ` +
          `use upload-method direct`
      )
    }
  }
  const created = await glance.createImage({
    name: request.name,
    diskFormat: request.diskFormat,
    containerFormat: 'bare',
    visibility: request.visibility ?? 'private',
    ...(request.minDisk !== undefined ? { minDisk: request.minDisk } : {}),
    ...(request.minRam !== undefined ? { minRam: request.minRam } : {}),
    ...(request.protected !== undefined ? { protected: request.protected } : {}),
    ...(request.tags ? { tags: request.tags } : {}),
    properties: { ...request.properties, [FAMILY_PROPERTY]: request.family, [SHA256_PROPERTY]: digest.sha256 }
  })
  log.info(`Glance: created image ${created.id} (${request.name}, ${request.visibility ?? 'private'})`)
  try {
    await request.onCreated?.(created.id)
    const uploadOptions = {
      expected: digest,
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      ...(request.progressIntervalMs ? { progressIntervalMs: request.progressIntervalMs } : {}),
      ...(request.assumedMiBPerSecond ? { assumedMiBPerSecond: request.assumedMiBPerSecond } : {})
    }
    const waitOptions = { timeoutMs: request.activeTimeoutMs ?? 30 * 60_000 }
    let sent: LocalDigest
    if (method === 'import') {
      sent = await glance.stageFile(created.id, request.file, uploadOptions)
      await glance.importImage(created.id, 'glance-direct')
      log.info(`Glance: importing image ${created.id} (glance-direct)`)
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
    log.info(
      `Glance: image ${image.id} is active; ${image.os_hash_algo ?? 'hash'} and size match what we sent`
    )
    await ensureShared(glance, image, request.shareWith ?? [], log)
    await request.onSettled?.(created.id, true)
    return image
  } catch (error) {
    log.warning(`Glance: publishing image ${created.id} failed; deleting it`)
    const deleted = await deleteWithRetries(
      glance,
      created.id,
      request.cleanupAttempts ?? 12,
      request.cleanupDelayMs ?? 5000,
      log
    )
    if (deleted) await request.onSettled?.(created.id, false)
    throw error
  }
}

export interface RotateOptions {
  family: string
  keep: number
  /** The image just published: always kept and counted first. */
  current?: Image
  dryRun: boolean
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
 * Keep the `keep` newest active images of the family in our project and delete the rest. Images
 * without our family property, protected images, other projects' images, images that are not active
 * (another run may still be uploading) and the current image are never deleted.
 */
export async function rotateImages(glance: GlanceApi, options: RotateOptions): Promise<RotationResult> {
  const { log } = options
  if (!Number.isInteger(options.keep) || options.keep < 1)
    throw new Error(`keep must be >= 1, not ${options.keep}`)
  const owner = await glance.projectId()
  const listed = await glance.listImages({
    properties: { [FAMILY_PROPERTY]: options.family },
    status: 'active',
    visibility: 'all',
    ...(owner ? { owner } : {}),
    sort: 'created_at:desc'
  })
  // Trust no filter blindly: a Glance that ignored one must not make us delete foreign images.
  const family = listed.filter(
    image =>
      image[FAMILY_PROPERTY] === options.family &&
      image.status === 'active' &&
      (!owner || image.owner === owner)
  )
  if (options.current && !family.some(image => image.id === options.current?.id)) family.push(options.current)
  const protectedSkipped = family.filter(image => image.protected && image.id !== options.current?.id)
  const rotating = family
    .filter(image => !image.protected || image.id === options.current?.id)
    .sort(newestFirst(options.current))
  const kept = rotating.slice(0, options.keep)
  const doomed = rotating.slice(options.keep)

  const result: RotationResult = { dryRun: options.dryRun, kept, deleted: [], protectedSkipped, failures: [] }
  const label = (image: Image): string => `${image.id} (${image.name ?? ''}, ${image.created_at})`
  log.info(
    `Rotation of family ${options.family}: keeping ${kept.length} of ${rotating.length} (keep ${options.keep})` +
      (protectedSkipped.length > 0 ? `; ${protectedSkipped.length} protected image(s) left alone` : '')
  )
  for (const image of doomed) {
    if (options.dryRun) {
      log.info(`Rotation (dry run): would delete ${label(image)}`)
      result.deleted.push(image)
      continue
    }
    try {
      await glance.deleteImage(image.id)
      log.info(`Rotation: deleted ${label(image)}`)
      result.deleted.push(image)
    } catch (error) {
      const message = `Rotation: could not delete ${label(image)}: ${(error as Error).message}`
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

/** A stored token Glance refused: there are no credentials here to get another one. */
class StoredTokenRefused extends Error {}

/**
 * For the post step: delete an image a killed run created but never settled, with the token the run
 * stored. 'refused' when Glance no longer takes that token (expired, revoked); other failures throw.
 */
export async function deleteWithStoredToken(
  access: GlanceAccess,
  imageId: string,
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
    const existed = await new Glance(stored, access.endpoint, http, log).deleteImage(imageId)
    log.info(
      existed ? `Glance: deleted unfinished image ${imageId}` : `Glance: image ${imageId} is already gone`
    )
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
  imageId: string,
  log: Logger
): Promise<boolean> {
  let connection
  let tokens: readonly string[] = []
  try {
    connection = await connectGlance(settings, log, { onTokens: issued => (tokens = issued) })
    const existed = await connection.glance.deleteImage(imageId)
    log.info(
      existed ? `Glance: deleted unfinished image ${imageId}` : `Glance: image ${imageId} is already gone`
    )
    return true
  } catch (error) {
    log.warning(`Glance: could not delete unfinished image ${imageId}: ${(error as Error).message}`)
    return false
  } finally {
    connection?.close()
    await revokeStoredTokens(keystoneAccess(settings), tokens, log)
  }
}
