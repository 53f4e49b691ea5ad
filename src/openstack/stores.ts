// Multi-store Glance: the stores a target offers, the ones an image lacks, copying an earlier image
// into those (copy-image) instead of uploading it again, and taking such copies out again.
import { setTimeout as sleep } from 'node:timers/promises'
import { storeList, type GlanceApi, type Image } from './glance.js'
import { OpenStackError } from './http.js'
import type { Logger } from './keystone.js'

/**
 * Every requested store must exist in the target (GET /v2/info/stores): checked before any disk is
 * touched, and again before the upload. The error names the input, the target and what it offers.
 */
export async function checkStores(glance: GlanceApi, stores: string[], label: string): Promise<void> {
  const where = label ? `Glance ${label}` : 'Glance'
  let offered: string[]
  try {
    offered = await glance.storeIds()
  } catch (error) {
    throw new Error(`stores: ${where} cannot import into stores: ${(error as Error).message}`, {
      cause: error
    })
  }
  const unknown = stores.filter(store => !offered.includes(store))
  if (unknown.length > 0) {
    throw new Error(
      `stores: ${where} has no store ${unknown.join(', ')}; it offers: ${offered.join(', ') || 'none'}`
    )
  }
}

/** The requested stores an image is not in (Glance's `stores` property, comma separated). */
export function missingStores(image: Image, stores: string[] | undefined): string[] {
  const held = new Set(storeList(image.stores))
  return (stores ?? []).filter(store => !held.has(store))
}

/** What copying needs from the publish: where, how long, and whom to tell (see TargetsRequest). */
export interface CopyOptions {
  label: string
  /** Prefixed with the target already. */
  log: Logger
  timeoutMs: number
  onCopying?: (target: string, imageId: string, stores: string[]) => void | Promise<void>
  onSettled?: (target: string, imageId: string, kept: boolean) => void | Promise<void>
}

/**
 * Copy an earlier image that holds the build's bytes into `stores`, the ones it lacks (copy-image,
 * all must succeed), instead of uploading a new one; registered for undoing before it is asked for.
 * Undefined (upload a new image) where Glance offers no copy-image or refuses it: its default policy
 * allows it to admins only. The wait is not cancelled: a copy Glance has begun is finished, then undone.
 */
export async function copyIntoStores(
  glance: GlanceApi,
  image: Image,
  stores: string[],
  options: CopyOptions
): Promise<Image | undefined> {
  const { label, log } = options
  if (!(await glance.importMethods()).includes('copy-image')) {
    log.info(
      `image ${image.id} holds these bytes but is not in ${stores.join(', ')}, and this Glance offers no copy-image; uploading a new image`
    )
    return undefined
  }
  await options.onCopying?.(label, image.id, stores)
  try {
    await glance.importImage(image.id, 'copy-image', { stores })
  } catch (error) {
    await options.onSettled?.(label, image.id, false)
    if (!(error instanceof OpenStackError && error.status === 403)) throw error
    log.warning(
      `copy-image of image ${image.id} into ${stores.join(', ')} was refused (Glance's default policy allows it to admins only): ${error.message}; uploading a new image instead`
    )
    return undefined
  }
  log.info(
    `copying image ${image.id} (${image.name}) into ${stores.join(', ')} (copy-image, all must succeed)`
  )
  try {
    const copied = await glance.waitForStatus(image.id, 'active', {
      timeoutMs: options.timeoutMs,
      untilStores: stores
    })
    log.info(
      `image ${image.id} already holds these bytes and is now in ${storeList(copied.stores).join(', ')}; not uploading again`
    )
    return copied
  } catch (error) {
    // Glance takes a failed copy out of the stores itself (all_stores_must_succeed); this is for
    // whatever landed before the failure was seen
    if (await removeCopies(glance, image.id, stores, log)) await options.onSettled?.(label, image.id, false)
    throw error
  }
}

/**
 * Take the copies a run made out of `stores` again (the image itself was there before): waits while
 * Glance is still copying into them (a copy it finishes later would stay). Never throws; true when
 * none is left.
 */
export async function removeCopies(
  glance: GlanceApi,
  imageId: string,
  stores: string[],
  log: Logger,
  options: { waitMs?: number; intervalMs?: number } = {}
): Promise<boolean> {
  try {
    const deadline = Date.now() + (options.waitMs ?? 120_000)
    for (;;) {
      const image = await glance.findImage(imageId)
      if (!image) return true
      const importing = storeList(image.os_glance_importing_to_stores).filter(store => stores.includes(store))
      if (importing.length === 0 || Date.now() >= deadline) break
      await sleep(options.intervalMs ?? 2000)
    }
    for (const store of stores) {
      if (await glance.removeFromStore(imageId, store))
        log.info(`took image ${imageId} out of store ${store} again`)
    }
    return true
  } catch (error) {
    log.warning(
      `could not take image ${imageId} out of store(s) ${stores.join(', ')} again: ${(error as Error).message}`
    )
    return false
  }
}
