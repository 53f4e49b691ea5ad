// The host directory pacman keeps packages in. arch-image hands it to the invoking user (chown -R)
// and prunes it before a cache save; both only on a directory it created itself, recognised by a
// marker file inside. Any other directory (a host's own pacman cache, a shared path) is used as it
// is: read and written, never chowned or pruned.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context, PackageCacheDir } from '../pipeline/context.js'

export const CACHE_MARKER = '.arch-image-cache'

const MARKER_TEXT =
  'arch-image created this package cache directory: it hands it to the invoking user and prunes it to the packages of its last image.\n'

/** `stat` of each path, without following links: its type and owner, or undefined when missing. */
async function statOf(ctx: Context, files: string[]): Promise<({ type: string; uid: number } | undefined)[]> {
  const results = []
  for (const file of files) {
    const result = await ctx.exec.run(['stat', '--printf', '%F\t%u', '--', file], {
      privileged: true,
      allowFailure: true,
      quiet: true
    })
    const [type, uid] = result.stdout.split('\t')
    results.push(result.code === 0 && type ? { type, uid: Number(uid) } : undefined)
  }
  return results
}

/** Whether a file with this owner can only have been written by us (as root, or handed to the user). */
function ownedByUs(ctx: Context, uid: number): boolean {
  return uid === 0 || uid === ctx.owner?.uid
}

/**
 * Create the package cache directory, or decide whether the existing one is ours. Decided once a run;
 * the first stage that needs the directory asks.
 */
export async function preparePackageCacheDir(ctx: Context): Promise<PackageCacheDir> {
  if (ctx.packageCache) return ctx.packageCache
  const dir = ctx.config.packages.cacheDir
  const { exec } = ctx
  await exec.run(['mkdir', '-p', '--', path.dirname(dir)], { privileged: true })
  // Without -p: it succeeds only when this run creates the directory.
  const created = await exec.run(['mkdir', '--', dir], { privileged: true, allowFailure: true, quiet: true })
  const marker = path.join(dir, CACHE_MARKER)
  if (created.code === 0) {
    const staged = path.join(ctx.workDir, 'cache-marker')
    writeFileSync(staged, MARKER_TEXT)
    await exec.run(['install', '-m', '0644', '-T', '--', staged, marker], { privileged: true, quiet: true })
    if (ctx.owner) {
      await exec.run(['chown', `${ctx.owner.uid}:${ctx.owner.gid}`, '--', dir, marker], { privileged: true })
    }
    ctx.log.info(`package cache: created ${dir}`)
    ctx.packageCache = { dir, ours: true }
    return ctx.packageCache
  }

  const [dirStat, markerStat] = await statOf(ctx, [dir, marker])
  if (!dirStat) throw new Error(`package-cache-dir: cannot create ${dir}: ${created.stderr.trim()}`)
  if (dirStat.type !== 'directory') {
    throw new Error(`package-cache-dir: ${dir} is a ${dirStat.type}, not a directory; use a directory`)
  }
  const ours =
    ownedByUs(ctx, dirStat.uid) &&
    markerStat !== undefined &&
    markerStat.type.startsWith('regular') &&
    ownedByUs(ctx, markerStat.uid)
  if (ours && ctx.owner) {
    // An earlier run that failed before handing it back left it root's: the restore writes as the user.
    await exec.run(['chown', `${ctx.owner.uid}:${ctx.owner.gid}`, '--', dir], { privileged: true })
  }
  if (!ours) {
    ctx.log.warning(
      `package-cache-dir: ${dir} was not created by arch-image (no ${CACHE_MARKER} of ours in it): it is used as it is, ` +
        'without handing it to the invoking user (chown -R) and without pruning it before a cache save. ' +
        'Point package-cache-dir at a directory that does not exist yet to let arch-image manage it.'
    )
  }
  ctx.packageCache = { dir, ours }
  return ctx.packageCache
}
