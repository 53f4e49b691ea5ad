// The bootstrap environment: Arch's bootstrap tarball extracted into the run's work directory,
// bound onto itself (pacman's CheckSpace and arch-chroot want a mount point), set up with our
// pacman.conf and mirrorlist and a populated keyring, and pacstrap run inside it with the image
// root mounted at its /mnt. Every mount joins the teardown stack before it exists.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context } from '../pipeline/context.js'
import type { RunOptions } from '../pipeline/exec.js'
import { findCommand } from '../util/commands.js'

/** Where pacman inside the environment downloads to (moved to the host cache afterwards). */
export const ENV_NEW_PACKAGES_DIR = '/var/cache/arch-image/pkg-new'
/** Where the host's package cache appears inside the environment, read-only. */
export const ENV_HOST_CACHE_DIR = '/var/cache/arch-image/pkg'
/** Where file:// repositories appear inside the environment (read-only), numbered. */
export const ENV_REPO_DIR = '/srv/arch-image/repo'
/** The pacman.conf pacstrap uses, as the environment sees it. */
export const ENV_PACMAN_CONF = '/etc/pacman.conf'
const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin'

export interface BindMount {
  /** A host directory. */
  source: string
  /** Its path inside the environment. */
  target: string
  readOnly: boolean
}

export interface EnvironmentPlan {
  /** pacman.conf for inside the environment. */
  conf: string
  /** /etc/pacman.d/mirrorlist for inside the environment. */
  mirrorlist: string
  binds: BindMount[]
  /** The host directory new downloads belong in (the conf's first CacheDir), if any. */
  hostCacheDir?: string
}

/**
 * Our pacman.conf as the environment must see it. Host paths are not visible inside, and arch-chroot
 * mounts a fresh /tmp, /run, /dev over the environment's, so paths are mapped to directories of
 * their own: the CacheDirs become read-only binds (pacman reads cached packages there) behind a
 * writable download dir inside the environment, whose new files are moved to the host cache after
 * pacstrap — no writable bind of a host directory, so a failed unmount can never let the work
 * directory's removal reach into the host's cache; file:// repositories become read-only binds.
 */
export function planEnvironment(confText: string, servers: string[]): EnvironmentPlan {
  const binds: BindMount[] = []
  const repoTargets = new Map<string, string>()
  const mapServer = (server: string): string => {
    if (!server.startsWith('file://')) return server
    const url = server.slice('file://'.length)
    const dollar = url.indexOf('$')
    const staticPart = dollar >= 0 ? url.slice(0, dollar) : url
    const dir = staticPart.endsWith('/') ? staticPart.replace(/\/+$/, '') : path.dirname(staticPart)
    if (!dir.startsWith('/')) throw new Error(`file:// server ${server}: no repository directory to bind`)
    let target = repoTargets.get(dir)
    if (!target) {
      target = `${ENV_REPO_DIR}-${repoTargets.size}`
      repoTargets.set(dir, target)
      binds.push({ source: dir, target, readOnly: true })
    }
    return `file://${target}${url.slice(dir.length)}`
  }

  const hostCaches: string[] = []
  const lines: string[] = []
  for (const line of confText.split('\n')) {
    const cache = /^\s*CacheDir\s*=\s*(.+?)\s*$/.exec(line)
    if (cache) {
      for (const dir of (cache[1] as string).split(/\s+/)) {
        const source = dir.replace(/\/+$/, '') || '/'
        const target =
          hostCaches.length === 0 ? ENV_HOST_CACHE_DIR : `${ENV_HOST_CACHE_DIR}-${hostCaches.length}`
        if (hostCaches.length === 0) lines.push(`CacheDir = ${ENV_NEW_PACKAGES_DIR}/`)
        hostCaches.push(source)
        binds.push({ source, target, readOnly: true })
        lines.push(`CacheDir = ${target}/`)
      }
      continue
    }
    const server = /^(\s*Server\s*=\s*)(.+?)\s*$/.exec(line)
    if (server) {
      lines.push(`${server[1]}${mapServer(server[2] as string)}`)
      continue
    }
    if (/^\s*(DBPath|RootDir|LogFile|GPGDir|HookDir|Include)\s*=/.test(line)) {
      throw new Error(
        `pacman.conf line ${JSON.stringify(line.trim())} names a host path; not usable inside the bootstrap environment`
      )
    }
    lines.push(line)
  }
  const mirrorlist = [
    '# Written by arch-image: the servers of this build.',
    ...servers.map(server => `Server = ${mapServer(server)}`),
    ''
  ].join('\n')
  return { conf: lines.join('\n'), mirrorlist, binds, hostCacheDir: hostCaches[0] }
}

export interface BootstrapEnvironment {
  /** The extracted `root.x86_64`, bound onto itself. */
  root: string
  plan: EnvironmentPlan
  /** Teardown handles: the extracted tree, then its mounts in the order they were made. */
  handles: { tree: number; mounts: number[] }
}

/**
 * The host path of a fixed path of ours in the bootstrap tree: a plain join, no link check (the tree
 * is the verified tarball's; image/rootfs.ts insideRoot guards paths in an image built from packages).
 */
function treePath(root: string, innerPath: string): string {
  return path.join(root, innerPath.replace(/^\/+/, ''))
}

/**
 * Run a command inside the environment with the host's arch-chroot (API file systems, its own PID
 * namespace): never the tarball's own, which would be a script from a download run as root on the host.
 */
export async function runInside(
  ctx: Context,
  env: BootstrapEnvironment,
  argv: string[],
  options: RunOptions = {}
): Promise<void> {
  await ctx.exec.run(['arch-chroot', env.root, ...argv], {
    ...options,
    privileged: true,
    env: { PATH: CHROOT_PATH, ...options.env }
  })
}

let hostGpgconf: boolean | undefined

/**
 * A teardown entry for a gpg-agent, when the host can stop one (gpgconf): the release of a
 * `gpg-agent` entry fails on a host without it, and arch-chroot's PID namespace stops the agents
 * started inside anyway.
 */
async function pushGpgAgent(ctx: Context, homedir: string): Promise<number | undefined> {
  hostGpgconf ??= findCommand('gpgconf') !== undefined
  return hostGpgconf ? ctx.teardown.push({ kind: 'gpg-agent', homedir }) : undefined
}

async function bindMount(ctx: Context, env: BootstrapEnvironment, bind: BindMount): Promise<void> {
  const { exec, teardown } = ctx
  const target = treePath(env.root, bind.target)
  await exec.run(['mkdir', '-p', '--', target], { privileged: true })
  env.handles.mounts.push(teardown.push({ kind: 'mount', target }))
  await exec.run(['mount', '--bind', ...(bind.readOnly ? ['-o', 'ro'] : []), '--', bind.source, target], {
    privileged: true
  })
}

async function installFile(ctx: Context, text: string, dest: string): Promise<void> {
  const staged = path.join(ctx.workDir, `staged-${path.basename(dest)}`)
  writeFileSync(staged, text)
  await ctx.exec.run(['install', '-D', '-m', '0644', '--', staged, dest], { privileged: true })
}

/**
 * Extract the verified tarball (the root-owned copy the bootstrap-tarball stage checked) into the
 * work directory, bind it onto itself, bind what pacman needs from the host (cache read-only,
 * file:// repositories read-only), write our pacman.conf and mirrorlist, and initialise and populate
 * its keyring (its gpg-agent is stopped afterwards).
 */
export async function prepareBootstrapEnvironment(
  ctx: Context,
  tarball: string,
  servers: string[],
  confText: string
): Promise<BootstrapEnvironment> {
  const { exec, teardown, log } = ctx
  const plan = planEnvironment(confText, servers)
  const base = path.join(ctx.workDir, 'bootstrap')
  mkdirSync(base, { recursive: true })
  const tree = teardown.push({ kind: 'path', path: base })
  const compression = tarball.endsWith('.tar.gz') ? '--gzip' : '--zstd'
  const started = performance.now()
  await exec.run(
    [
      'tar',
      '--extract',
      compression,
      '--file',
      tarball,
      '--directory',
      base,
      '--numeric-owner',
      '--preserve-permissions'
    ],
    { privileged: true, quiet: true }
  )
  log.info(`extracted ${tarball} in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  const root = path.join(base, 'root.x86_64')
  const missing = ['usr/bin/pacman', 'usr/bin/pacman-key', 'usr/bin/pacstrap'].filter(
    file => !existsSync(path.join(root, file))
  )
  if (missing.length > 0) {
    throw new Error(
      `${tarball} is not an Arch Linux bootstrap tarball: root.x86_64/ lacks ${missing.join(', ')}`
    )
  }
  const env: BootstrapEnvironment = { root, plan, handles: { tree, mounts: [] } }

  // Bound onto itself: a mount point, and private, so nothing mounted inside shows up elsewhere.
  env.handles.mounts.push(teardown.push({ kind: 'mount', target: root }))
  await exec.run(['mount', '--bind', '--', root, root], { privileged: true })
  await exec.run(['mount', '--make-private', '--', root], { privileged: true })
  if (plan.hostCacheDir) await exec.run(['mkdir', '-p', '--', plan.hostCacheDir], { privileged: true })
  for (const bind of plan.binds) await bindMount(ctx, env, bind)
  await exec.run(['mkdir', '-p', '--', treePath(root, ENV_NEW_PACKAGES_DIR)], { privileged: true })

  await installFile(ctx, plan.conf, treePath(root, ENV_PACMAN_CONF))
  await installFile(ctx, plan.mirrorlist, treePath(root, '/etc/pacman.d/mirrorlist'))

  // arch-chroot runs each command in a PID namespace of its own, so the gpg-agent pacman-key starts
  // ends with it; the teardown entry covers a run killed half-way.
  const agent = await pushGpgAgent(ctx, treePath(root, '/etc/pacman.d/gnupg'))
  const keyringStarted = performance.now()
  await runInside(ctx, env, ['pacman-key', '--init'])
  await runInside(ctx, env, ['pacman-key', '--populate', 'archlinux'])
  if (agent !== undefined) await teardown.release(agent)
  log.info(`bootstrap keyring ready in ${((performance.now() - keyringStarted) / 1000).toFixed(1)} s`)
  return env
}

/**
 * pacstrap from inside the environment into `target` (default ctx.rootDir), mounted at the
 * environment's /mnt for the duration: `pacstrap -C /etc/pacman.conf -c -K -M /mnt packages...`.
 * New downloads are then moved into the host's package cache.
 */
export async function pacstrapInside(
  ctx: Context,
  env: BootstrapEnvironment,
  packages: string[],
  options: { target?: string } = {}
): Promise<void> {
  const { exec, teardown } = ctx
  const target = options.target ?? ctx.rootDir
  if (!target) throw new Error('BUG: root not mounted')
  if (packages.length === 0) throw new Error('BUG: no packages to install')
  const mnt = treePath(env.root, '/mnt')
  await exec.run(['mkdir', '-p', '--', mnt], { privileged: true })
  const mount = teardown.push({ kind: 'mount', target: mnt })
  // pacstrap -K starts a gpg-agent for the image's keyring (inside arch-chroot's PID namespace, so
  // it ends with it); stopped again here in case, before the image root is unmounted.
  const agent = await pushGpgAgent(ctx, path.join(target, 'etc/pacman.d/gnupg'))
  let failure: unknown
  try {
    await exec.run(['mount', '--rbind', '--', target, mnt], { privileged: true })
    // A slave: pacstrap's API mounts under /mnt must not appear under the image root on the host.
    await exec.run(['mount', '--make-rslave', '--', mnt], { privileged: true })
    const started = performance.now()
    await runInside(ctx, env, ['pacstrap', '-C', ENV_PACMAN_CONF, '-c', '-K', '-M', '/mnt', ...packages])
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    ctx.log.info(`pacstrap inside the bootstrap environment: ${seconds} s`)
  } catch (error) {
    failure = error
  }
  try {
    if (agent !== undefined) await teardown.release(agent)
    await teardown.release(mount)
    // Kept on failure too, as the host's pacstrap -c would: a retry need not download them again.
    await keepNewPackages(ctx, env)
  } catch (error) {
    if (!failure) throw error
    ctx.log.warning(`after the failed pacstrap: ${(error as Error).message}`)
  }
  if (failure) throw failure
}

/** Move what pacman downloaded inside the environment into the host's package cache. */
export async function keepNewPackages(ctx: Context, env: BootstrapEnvironment): Promise<void> {
  const hostCache = env.plan.hostCacheDir
  if (!hostCache) return
  const downloads = treePath(env.root, ENV_NEW_PACKAGES_DIR)
  await ctx.exec.run(['mkdir', '-p', '--', hostCache], { privileged: true })
  const moved = await ctx.exec.run(
    [
      'find',
      downloads,
      '-maxdepth',
      '1',
      '-type',
      'f',
      '!',
      '-name',
      '*.part',
      '-print',
      '-exec',
      'mv',
      '-n',
      '-t',
      hostCache,
      '{}',
      '+'
    ],
    { privileged: true, quiet: true }
  )
  const count = moved.stdout.split('\n').filter(Boolean).length
  ctx.log.info(`${count} new package file(s) moved to ${hostCache}`)
}

/** Unmount the environment and remove its tree now (the teardown would do it at the end). */
export async function releaseBootstrapEnvironment(ctx: Context, env: BootstrapEnvironment): Promise<void> {
  for (const handle of [...env.handles.mounts].reverse()) await ctx.teardown.release(handle)
  env.handles.mounts = []
  await ctx.teardown.release(env.handles.tree)
}
