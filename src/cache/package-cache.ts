// The pacman package cache between runs, kept in GitHub's Actions cache (@actions/cache, service v2).
//
// A cache never fails the job: every error of the service, the network, tar or the file system ends as
// a warning and a miss (restore) or an unsaved entry (save). @actions/cache logs most of its own
// failures itself (as workflow warnings) and returns undefined / -1; what it throws is caught here.
// The directory must be passed as the same string to restore and save: the entry's version hashes the
// literal path strings (and the compressor), and a restore only sees entries of its own version.
import * as cache from '@actions/cache'
import path from 'node:path'
import type { Log } from '../pipeline/log.js'
import { countPackageFiles } from './prune.js'

export { cacheKey, dateBucket, CACHE_KEY_PREFIX, type CacheKey, type CacheKeyInput } from './key.js'
export {
  countPackageFiles,
  parsePackageFileName,
  prunePackageCache,
  type InstalledPackage,
  type PackageFile,
  type PruneResult
} from './prune.js'

export type CacheHit = 'exact' | 'partial' | 'miss'

export interface RestoreResult {
  hit: CacheHit
  /** The key of the entry restored (the key itself for an exact hit, a newer-or-older sibling otherwise). */
  matchedKey?: string
  /** Package files in the directory after the restore. */
  files: number
}

export type SaveOutcome = 'saved' | 'exact-hit' | 'exists' | 'unavailable' | 'empty' | 'failed'

export interface SaveResult {
  saved: boolean
  outcome: SaveOutcome
  cacheId?: number
}

/** Paths @actions/glob would read as patterns; such a directory is not cached rather than mis-cached. */
const GLOB_SPECIAL = /[*?[\]\\]/

/** The one spelling of the directory used for both restore and save (it is part of the entry's version). */
export function cachePath(dir: string): string {
  return path.resolve(dir)
}

/** Whether the runner gave this step the cache service (v2: ACTIONS_RESULTS_URL; always a runtime token). */
export function cacheServiceAvailable(): boolean {
  try {
    return cache.isFeatureAvailable() && Boolean(process.env.ACTIONS_RUNTIME_TOKEN)
  } catch {
    return false
  }
}

function unusable(dir: string, log: Log): boolean {
  if (!cacheServiceAvailable()) {
    log.info('package cache: the Actions cache service is not available to this step; not used')
    return true
  }
  if (GLOB_SPECIAL.test(dir)) {
    log.warning(`package cache: ${dir} contains glob characters (* ? [ ] \\); the package cache is not used`)
    return true
  }
  return false
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function seconds(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`
}

/** Restore the package cache into `dir` (before bootstrap). Never throws. */
export async function restorePackageCache(
  dir: string,
  key: string,
  restoreKeys: string[],
  log: Log
): Promise<RestoreResult> {
  const target = cachePath(dir)
  if (unusable(target, log)) return { hit: 'miss', files: countPackageFiles(target).files }
  const start = Date.now()
  let matchedKey: string | undefined
  try {
    matchedKey = await cache.restoreCache([target], key, restoreKeys)
  } catch (error) {
    log.warning(`package cache: restore failed, building without it: ${describe(error)}`)
    return { hit: 'miss', files: countPackageFiles(target).files }
  }
  const files = countPackageFiles(target).files
  if (!matchedKey) {
    log.info(`package cache: no entry for ${key} or its restore keys (${seconds(start)})`)
    return { hit: 'miss', files }
  }
  const hit: CacheHit = matchedKey === key ? 'exact' : 'partial'
  log.info(`package cache: restored ${matchedKey} (${hit} hit, ${files} packages, ${seconds(start)})`)
  return { hit, matchedKey, files }
}

export interface SaveOptions {
  /** The key the restore matched; equal to `key`, the entry exists and is immutable: nothing to save. */
  matchedKey?: string
}

/**
 * Save `dir` under `key` (after pruning, in the post step). Skipped after an exact hit, when another
 * job saved the key meanwhile, or when there is nothing to save. Never throws.
 */
export async function savePackageCache(
  dir: string,
  key: string,
  log: Log,
  options: SaveOptions = {}
): Promise<SaveResult> {
  const target = cachePath(dir)
  if (options.matchedKey === key) {
    log.info(`package cache: ${key} was restored exactly; entries are immutable, not saving`)
    return { saved: false, outcome: 'exact-hit' }
  }
  if (unusable(target, log)) return { saved: false, outcome: 'unavailable' }
  const { files, bytes } = countPackageFiles(target)
  if (files === 0) {
    log.info(`package cache: no package files in ${target}; not saving`)
    return { saved: false, outcome: 'empty' }
  }
  const start = Date.now()
  try {
    // A matrix sibling with the same package set may have saved this key since our restore: a lookup
    // (one request, no download) spares the archive and the upload. One still uploading is not seen
    // here; its reservation makes ours fail with a 409, which the library reports like any other.
    const existing = await cache.restoreCache([target], key, [], { lookupOnly: true })
    if (existing === key) {
      log.info(`package cache: ${key} was saved meanwhile by another job; not saving`)
      return { saved: false, outcome: 'exists' }
    }
    const cacheId = await cache.saveCache([target], key)
    if (cacheId === -1) {
      log.warning(
        `package cache: not saved under ${key} (another job may be saving the same key; otherwise the cache service's reason is logged above)`
      )
      return { saved: false, outcome: 'failed' }
    }
    const mib = (bytes / (1024 * 1024)).toFixed(1)
    log.info(
      `package cache: saved ${files} packages (${mib} MiB before compression) as ${key} (${seconds(start)})`
    )
    return { saved: true, outcome: 'saved', cacheId }
  } catch (error) {
    log.warning(`package cache: not saved under ${key}: ${describe(error)}`)
    return { saved: false, outcome: 'failed' }
  }
}
