// The Actions cache of downloaded packages (the directory itself is packages.cacheDir).
import type { SectionInput } from '../reader.js'
import { parseBool } from '../validate.js'

export interface CacheConfig {
  /** Restore the package cache before pacstrap and save it in the post step, with @actions/cache. */
  enabled: boolean
}

export function parseCache({ get, problems }: SectionInput): CacheConfig {
  return { enabled: parseBool(problems, 'cache', get('cache')) }
}
