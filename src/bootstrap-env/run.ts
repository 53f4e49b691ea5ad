// `pacman-from`: whose pacman installs the image. `host` runs the host's pacstrap; `bootstrap` runs
// pacstrap inside Arch's own bootstrap tarball (today's pacman and keyring on any Linux host);
// `auto` is the host's on an Arch host and the bootstrap tarball elsewhere.
import type { PacmanFrom } from '../config/config.js'
import type { Context, VerifiedTarball } from '../pipeline/context.js'
import { pacstrapInside, prepareBootstrapEnvironment, releaseBootstrapEnvironment } from './environment.js'
import { shippedKeyring, userKeyring, type TrustedKeyring } from './keys.js'
import { bootstrapUrls, mirrorBase, obtainBootstrapTarball, type BootstrapSource } from './tarball.js'
import { hostFamily, readHostOsRelease } from '../util/os-release.js'

/** Arch Linux or a distribution that says it is like Arch (ID / ID_LIKE of os-release). */
export function isArchOsRelease(text: string): boolean {
  return hostFamily(text) === 'arch'
}

/** Whether pacstrap runs inside the bootstrap tarball (true) or from the host (false). */
export function usesBootstrapTarball(
  pacmanFrom: PacmanFrom,
  osRelease: string = readHostOsRelease()
): boolean {
  if (pacmanFrom === 'bootstrap') return true
  if (pacmanFrom === 'host') return false
  return !isArchOsRelease(osRelease)
}

function archiveDate(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '/')
}

/**
 * Where this run's bootstrap tarball comes from: with an Archive snapshot, the Archive's release of
 * the snapshot's month (then the month before); from mirrors, each mirror's `iso/latest/`, then the
 * Archive's release of the current month (a mirror of another shape, or a file:// one, has no iso/).
 */
export function bootstrapSources(ctx: Context, today: Date = new Date()): BootstrapSource[] {
  const { config } = ctx
  if (ctx.snapshotDate) return bootstrapUrls(config.packages.archiveUrl, ctx.snapshotDate)
  const servers = ctx.servers.length > 0 ? ctx.servers : config.packages.mirrors
  const bases = [...new Set(servers.map(mirrorBase).filter((base): base is string => base !== undefined))]
  return [
    ...bases.flatMap(base => bootstrapUrls(base)),
    ...bootstrapUrls(config.packages.archiveUrl, archiveDate(today))
  ]
}

/** The keyring the tarball's signature is checked against: the `bootstrap-keyring` input, else the shipped one. */
export function bootstrapKeyring(ctx: Context): TrustedKeyring {
  return ctx.config.packages.bootstrapKeyring
    ? userKeyring(ctx.config.packages.bootstrapKeyring)
    : shippedKeyring()
}

/**
 * The verified tarball for this run (tool cache or download), as a root-owned copy in the work dir;
 * the `bootstrap-tarball` stage runs it before any disk is touched.
 */
export async function obtainVerifiedBootstrapTarball(
  ctx: Context,
  keyring: TrustedKeyring = bootstrapKeyring(ctx)
): Promise<VerifiedTarball> {
  return obtainBootstrapTarball(bootstrapSources(ctx), {
    log: ctx.log,
    exec: ctx.exec,
    keyring,
    workDir: ctx.workDir
  })
}

/**
 * pacstrap with the verified tarball: the environment extracted from it, pacstrap inside, and the
 * environment released again (unmounted and removed). `target` defaults to ctx.rootDir.
 */
export async function pacstrapWithBootstrapTarball(
  ctx: Context,
  tarball: VerifiedTarball,
  packages: string[],
  confText: string,
  options: { target?: string } = {}
): Promise<void> {
  const env = await prepareBootstrapEnvironment(ctx, tarball.path, ctx.servers, confText)
  await pacstrapInside(ctx, env, packages, { target: options.target })
  await releaseBootstrapEnvironment(ctx, env)
}
