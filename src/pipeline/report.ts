// What a finished (or failed) run reports: the action's outputs and the job summary's rows.
import type { Context } from './context.js'

export function buildOutputs(ctx: Context): Record<string, string> {
  const image = ctx.image
  if (!image) return {}
  return {
    'image-path': image.path,
    'image-format': image.format,
    'image-size': String(image.size),
    'virtual-size': String(image.virtualSize),
    sha256: image.sha256,
    sha512: image.sha512,
    'sha256sums-path': image.sha256sumsPath,
    'manifest-path': image.manifestPath,
    'package-count': String(ctx.installed?.length ?? 0),
    snapshot: ctx.snapshotDate ?? '',
    'cache-hit': ctx.cache ? String(ctx.cache.hit === 'exact') : 'false',
    'cache-key': ctx.cache?.key ?? '',
    'release-url': ctx.release?.url ?? '',
    'release-assets': ctx.release ? JSON.stringify(ctx.release.assets) : ''
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function stageRows(ctx: Context): string[][] {
  return ctx.records.map(record => [
    record.name,
    record.result === 'not run' || record.result === 'skipped' ? '' : `${record.seconds.toFixed(1)} s`,
    record.result
  ])
}

export function factRows(ctx: Context): string[][] {
  const image = ctx.image
  const rows: string[][] = [['image name', ctx.imageName]]
  if (image) {
    rows.push(
      ['file', image.path],
      ['format', image.format],
      ['size', `${formatBytes(image.size)} (${image.size} bytes)`],
      ['virtual size', formatBytes(image.virtualSize)],
      ['sha256', image.sha256]
    )
  }
  rows.push(['snapshot', ctx.snapshotDate ?? 'none (mirror)'])
  if (ctx.installed) rows.push(['packages', String(ctx.installed.length)])
  return rows
}
