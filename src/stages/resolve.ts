// resolve: where packages come from (a mirror, or an Arch Linux Archive snapshot with `latest`
// pinned to a date once per run) and so the image's default name.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defaultImageName, type Config } from '../config/config.js'
import type { Stage } from '../pipeline/runner.js'
import { sourceDateEpochBeforeInstall } from '../image/reproducible.js'

export function unixTimeToArchiveDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10).replaceAll('-', '/')
}

async function fetchText(url: string): Promise<string> {
  if (url.startsWith('file://')) return readFileSync(fileURLToPath(url), 'utf8')
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is its cause.
    const cause = (error as Error).cause as NodeJS.ErrnoException | undefined
    throw new Error(`GET ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`)
  }
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`)
  return response.text()
}

/** `latest` becomes the date of the Archive's newest snapshot (`repos/last/lastsync` holds its Unix time). */
export async function resolveSnapshot(config: Config): Promise<string | undefined> {
  const { snapshot } = config.packages
  if (snapshot.kind === 'none') return undefined
  if (snapshot.kind === 'date') return snapshot.date
  const url = `${config.packages.archiveUrl}/repos/last/lastsync`
  const text = (await fetchText(url)).trim()
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new Error(`${url} did not hold a Unix time (got ${JSON.stringify(text.slice(0, 40))})`)
  }
  return unixTimeToArchiveDate(Number(text))
}

export function snapshotServer(config: Config, date: string): string {
  return `${config.packages.archiveUrl}/repos/${date}/$repo/os/$arch`
}

export const resolveStage: Stage = {
  name: 'resolve',
  async run(ctx) {
    const { config } = ctx
    ctx.snapshotDate = await resolveSnapshot(config)
    ctx.servers = ctx.snapshotDate ? [snapshotServer(config, ctx.snapshotDate)] : config.packages.mirrors
    if (ctx.snapshotDate) ctx.log.info(`Arch Linux Archive snapshot ${ctx.snapshotDate}`)
    ctx.log.info(`package servers: ${ctx.servers.join(' ')}`)
    ctx.imageName ||= defaultImageName(config.image.family, ctx.snapshotDate, new Date())
    ctx.log.info(`image name: ${ctx.imageName}`)
    ctx.sourceDateEpoch = sourceDateEpochBeforeInstall(config.image.sourceDateEpoch, ctx.snapshotDate)
    if (ctx.sourceDateEpoch !== undefined) ctx.log.info(`SOURCE_DATE_EPOCH ${ctx.sourceDateEpoch}`)
  }
}
