// The pacman package cache between runs: restored into CacheDir before bootstrap, pruned to exactly
// what the image installed and saved by the post step once the build got past bootstrap. A cache
// failure only warns; it never fails a build.
import { preparePackageCacheDir } from '../cache/cache-dir.js'
import { cacheKey, prunePackageCache, restorePackageCache, savePackageCache } from '../cache/package-cache.js'
import type { CacheState } from '../pipeline/context.js'
import type { Log } from '../pipeline/log.js'
import type { Stage } from '../pipeline/runner.js'
import { packageList } from './bootstrap.js'

/** What the post step needs to save the cache (mirrored into GITHUB_STATE). */

export const cacheRestoreStage: Stage = {
  name: 'cache restore',
  enabled: ctx => ctx.config.cache.enabled,
  async run(ctx) {
    const { config } = ctx
    const { key, restoreKeys } = cacheKey({
      architecture: config.image.architecture,
      servers: ctx.servers,
      snapshot: ctx.snapshotDate,
      packages: packageList(config)
    })
    const { ours } = await preparePackageCacheDir(ctx)
    const restored = await restorePackageCache(config.packages.cacheDir, key, restoreKeys, ctx.log)
    ctx.cache = {
      key,
      hit: restored.hit,
      state: { dir: config.packages.cacheDir, ours, key, matchedKey: restored.matchedKey }
    }
    ctx.saveCacheState(ctx.cache.state)
    ctx.log.info(
      `package cache ${restored.hit}${restored.matchedKey ? ` (${restored.matchedKey})` : ''}: key ${key}`
    )
  }
}

/** The post step's half: prune to the installed packages, then save under the key (skipped on an exact hit). */
export async function savePackageCacheFromState(state: CacheState, log: Log): Promise<void> {
  if (!state.installed || state.installed.length === 0) {
    log.info('package cache: the build did not get past bootstrap; nothing to save')
    return
  }
  if (state.ours) {
    const pruned = prunePackageCache(state.dir, state.installed)
    log.info(`package cache: kept ${pruned.kept} package files, removed ${pruned.removed}`)
    for (const failure of pruned.failed) log.warning(`package cache: could not remove ${failure}`)
  } else {
    log.info(`package cache: ${state.dir} was not created by arch-image; saved as it is, not pruned`)
  }
  const saved = await savePackageCache(state.dir, state.key, log, { matchedKey: state.matchedKey })
  log.info(`package cache save: ${saved.outcome}`)
}
