// bootstrap: our own pacman.conf, then pacstrap of the package set into the mounted root.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from '../config/config.js'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { readInstalledPackages } from './rootfs.js'

export const REPOSITORIES = ['core', 'extra']

/** The generated pacman.conf. DBPath and LogFile are left out on purpose: pacstrap's `-r` puts them in the image. */
export function pacmanConf(config: Config, servers: string[]): string {
  const lines = [
    '# Written by arch-image for pacstrap.',
    '[options]',
    `Architecture = ${config.architecture}`,
    `CacheDir = ${config.packageCacheDir}/`,
    `SigLevel = ${config.signatureLevel}`,
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

export function unixTimeToArchiveDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10).replaceAll('-', '/')
}

async function fetchText(url: string): Promise<string> {
  if (url.startsWith('file://')) return readFileSync(fileURLToPath(url), 'utf8')
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`)
  return response.text()
}

/** `latest` becomes the date of the Archive's newest snapshot (`repos/last/lastsync` holds its Unix time). */
export async function resolveSnapshot(config: Config): Promise<string | undefined> {
  const { snapshot } = config
  if (snapshot.kind === 'none') return undefined
  if (snapshot.kind === 'date') return snapshot.date
  const url = `${config.archiveUrl}/repos/last/lastsync`
  const text = (await fetchText(url)).trim()
  const seconds = Number(text)
  if (!/^\d+$/.test(text) || seconds <= 0) throw new Error(`${url} did not hold a Unix time (got ${JSON.stringify(text.slice(0, 40))})`)
  return unixTimeToArchiveDate(seconds)
}

export function snapshotServer(config: Config, date: string): string {
  return `${config.archiveUrl}/repos/${date}/$repo/os/$arch`
}

export const bootstrapStage: Stage = {
  name: 'bootstrap',
  async run(ctx) {
    const { config, exec, teardown } = ctx
    const rootDir = ctx.rootDir
    if (!rootDir) throw new Error('BUG: root not mounted')

    ctx.snapshotDate = await resolveSnapshot(config)
    ctx.servers = ctx.snapshotDate ? [snapshotServer(config, ctx.snapshotDate)] : config.mirrors
    if (ctx.snapshotDate) ctx.log.info(`Arch Linux Archive snapshot ${ctx.snapshotDate}`)
    ctx.log.info(`package servers: ${ctx.servers.join(' ')}`)

    await exec.run(['mkdir', '-p', config.packageCacheDir], { privileged: true })
    const confPath = path.join(ctx.workDir, 'pacman.conf')
    writeFileSync(confPath, pacmanConf(config, ctx.servers))

    const packages = [...new Set([...config.basePackages, ...config.packages])]
    // pacstrap -K starts a gpg-agent inside the target; it must be stopped before the unmount.
    ctx.held.gpgAgent = teardown.push({ kind: 'gpg-agent', homedir: path.join(rootDir, 'etc/pacman.d/gnupg') })
    await exec.run(['pacstrap', '-C', confPath, '-c', '-K', '-M', rootDir, ...packages], { privileged: true })
    await teardown.release(ctx.held.gpgAgent)
    ctx.held.gpgAgent = undefined

    ctx.installed = readInstalledPackages(rootDir)
    ctx.log.info(`${ctx.installed.length} packages installed`)
  }
}
