// bootstrap: our own pacman.conf, then pacstrap of the package set into the mounted root.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { preparePackageCacheDir } from '../cache/cache-dir.js'
import type { Config } from '../config/config.js'
import { pacstrapWithBootstrapTarball, usesBootstrapTarball } from '../bootstrap-env/run.js'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { readInstalledPackages } from '../image/rootfs.js'
import { newestBuildDate, sourceDateEpochEnv } from '../image/reproducible.js'

export const REPOSITORIES = ['core', 'extra']

/** The generated pacman.conf. DBPath and LogFile are left out on purpose: pacstrap's `-r` puts them in the image. */
export function pacmanConf(config: Config, servers: string[]): string {
  const lines = [
    '# Written by arch-image for pacstrap.',
    '[options]',
    `Architecture = ${config.image.architecture}`,
    `CacheDir = ${config.packages.cacheDir}/`,
    `SigLevel = ${config.packages.signatureLevel}`,
    'LocalFileSigLevel = Optional',
    'ParallelDownloads = 5',
    'CheckSpace',
    ''
  ]
  for (const repo of REPOSITORIES) {
    lines.push(`[${repo}]`, ...servers.map(server => `Server = ${server}`), '')
  }
  return lines.join('\n')
}

// Arch's base has no e2fsprogs: without it an ext4 root gets no fsck at boot and cloud-init cannot grow it.
const FILESYSTEM_TOOLS = { ext4: 'e2fsprogs', btrfs: 'btrfs-progs' }

/**
 * What pacstrap installs: the base set (its `linux` swapped for the chosen kernel when configuring), the
 * root filesystem's tools when configuring, and the extras.
 */
export function packageList(config: Config): string[] {
  if (!config.configure.enabled) return [...new Set([...config.packages.base, ...config.packages.extra])]
  const base = config.packages.base.map(name => (name === 'linux' ? config.configure.kernel : name))
  return [
    ...new Set([
      ...base,
      config.configure.kernel,
      FILESYSTEM_TOOLS[config.disk.filesystem],
      ...config.packages.extra
    ])
  ]
}

async function pacstrapFromHost(ctx: Context, packages: string[]): Promise<void> {
  const rootDir = ctx.rootDir as string
  const confPath = path.join(ctx.workDir, 'pacman.conf')
  writeFileSync(confPath, pacmanConf(ctx.config, ctx.servers))
  // pacstrap -K starts a gpg-agent inside the target; it must be stopped before the unmount.
  ctx.held.gpgAgent = ctx.teardown.push({
    kind: 'gpg-agent',
    homedir: path.join(rootDir, 'etc/pacman.d/gnupg')
  })
  // pacman >= 7.1 dates %INSTALLDATE% by it; older ones get theirs rewritten by the refill stage.
  await ctx.exec.run(['pacstrap', '-C', confPath, '-c', '-K', '-M', rootDir, ...packages], {
    privileged: true,
    env: sourceDateEpochEnv(ctx)
  })
  await ctx.teardown.release(ctx.held.gpgAgent)
  ctx.held.gpgAgent = undefined
}

export const bootstrapStage: Stage = {
  name: 'bootstrap',
  async run(ctx) {
    const { config } = ctx
    const rootDir = ctx.rootDir
    if (!rootDir) throw new Error('BUG: root not mounted')

    await preparePackageCacheDir(ctx)
    const packages = packageList(config)
    if (usesBootstrapTarball(config.packages.pacmanFrom)) {
      ctx.log.info(
        `pacstrap runs inside Arch's bootstrap tarball (pacman-from: ${config.packages.pacmanFrom})`
      )
      if (!ctx.bootstrapTarball) throw new Error('BUG: the bootstrap-tarball stage did not run')
      await pacstrapWithBootstrapTarball(ctx, ctx.bootstrapTarball, packages, pacmanConf(config, ctx.servers))
    } else {
      await pacstrapFromHost(ctx, packages)
    }

    ctx.installed = readInstalledPackages(rootDir)
    ctx.log.info(`${ctx.installed.length} packages installed`)
    if (ctx.sourceDateEpoch === undefined) {
      ctx.sourceDateEpoch = newestBuildDate(rootDir)
      ctx.log.info(`SOURCE_DATE_EPOCH ${ctx.sourceDateEpoch} (the newest package's build date)`)
    }
    if (ctx.cache) {
      ctx.cache.state.installed = ctx.installed
      ctx.saveCacheState(ctx.cache.state)
    }
  }
}
