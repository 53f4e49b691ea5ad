// The package cache's key: which entry a run restores from and saves to.
//
//   arch-image-pkg-v1-<arch>-s<servers hash>-p<packages hash>-<bucket>
//
// The servers hash separates package sources, with a snapshot's date taken out of its URLs so that every
// snapshot of one Archive is one source; the packages hash separates package sets; the bucket is
// `snap<YYYYMMDD>` for a snapshot (its files never change, so one entry serves it for good) and
// `d<YYYYMMDD>` (UTC day) for a rolling mirror, so a run on a new day saves a fresh entry instead of
// reading a week-old one forever (entries are immutable). Restore keys fall back from the same set on
// another day or snapshot, to any set from the same source, to anything of the same architecture:
// pacman checks every cached file against the sync database and downloads what is missing or newer.
// The last fallback crosses sources: a source that rebuilt a package under the same name and version
// (other bytes) makes pacstrap fail its checksum once (pacman deletes the file, a rerun passes).
import { createHash } from 'node:crypto'

/** Changing the cache's layout or meaning: bump, and older entries are never read again. */
export const CACHE_KEY_PREFIX = 'arch-image-pkg-v1'

/** @actions/cache refuses longer keys. */
export const MAX_KEY_LENGTH = 512

export interface CacheKeyInput {
  architecture: string
  /** pacman `Server =` URLs as used, in order (a mirror, or the snapshot's Archive URL). */
  servers: string[]
  /** The resolved snapshot date (YYYY/MM/DD) when the servers are a pinned Archive snapshot. */
  snapshot?: string
  /** The package names given to pacstrap (order and duplicates do not matter). */
  packages: string[]
  /** For the rolling-mirror bucket; the current time when left out. */
  today?: Date
}

export interface CacheKey {
  key: string
  /** Most specific first, each a prefix of the key. */
  restoreKeys: string[]
}

function hash(lines: string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)
}

/** `snap20250610` for a snapshot, `d20250610` (UTC day) for a rolling mirror. */
export function dateBucket(snapshot: string | undefined, today: Date): string {
  if (snapshot) return `snap${snapshot.replace(/[^0-9]/g, '')}`
  return `d${today.toISOString().slice(0, 10).replaceAll('-', '')}`
}

export function cacheKey(input: CacheKeyInput): CacheKey {
  // Keys may not contain commas (the library splits on them); anything else of the architecture is
  // kept readable but bounded.
  const arch = input.architecture.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32) || 'unknown'
  const snapshot = input.snapshot
  const sources = input.servers.map(server => (snapshot ? server.split(snapshot).join('{snapshot}') : server))
  const servers = hash(['servers', ...sources, snapshot ? 'snapshot' : 'mirror'])
  const packages = hash(['packages', ...[...new Set(input.packages)].sort()])
  const bucket = dateBucket(input.snapshot, input.today ?? new Date())
  const byArch = `${CACHE_KEY_PREFIX}-${arch}-`
  const byServers = `${byArch}s${servers}-`
  const bySet = `${byServers}p${packages}-`
  const key = `${bySet}${bucket}`
  if (key.length > MAX_KEY_LENGTH) throw new Error(`BUG: cache key longer than ${MAX_KEY_LENGTH}: ${key}`)
  return { key, restoreKeys: [bySet, byServers, byArch] }
}
