// What a finished (or failed) run reports: the action's outputs and the job summary's rows.
import type { Context } from './context.js'
import { escapeHtml } from '../util/html.js'

export function buildOutputs(ctx: Context): Record<string, string> {
  if (ctx.config.mode === 'cleanup') return { deleted: JSON.stringify(ctx.deleted ?? []) }
  const image = ctx.image
  if (!image) return {}
  return {
    ...bootTestOutputs(ctx),
    'image-name': ctx.imageName,
    'image-path': image.path,
    'image-format': image.format,
    'image-size': String(image.size),
    'virtual-size': String(image.virtualSize),
    sha256: image.sha256,
    sha512: image.sha512,
    ...reproducibleOutput(ctx),
    'sha256sums-path': image.sha256sumsPath,
    'manifest-path': image.manifestPath,
    'sbom-spdx-path': ctx.sbom?.spdxPath ?? '',
    'sbom-cyclonedx-path': ctx.sbom?.cyclonedxPath ?? '',
    'package-count': String(ctx.installed?.length ?? 0),
    snapshot: ctx.snapshotDate ?? '',
    'cache-hit': ctx.cache ? String(ctx.cache.hit === 'exact') : 'false',
    'cache-key': ctx.cache?.key ?? '',
    'release-url': ctx.release?.url ?? '',
    'release-assets': ctx.release ? JSON.stringify(ctx.release.assets) : '',
    'package-diff': ctx.packageDiff ? JSON.stringify(ctx.packageDiff.diff) : '',
    'comment-url': ctx.comment?.url ?? '',
    'attestation-id': ctx.attestation ? String(ctx.attestation.provenance.id) : '',
    'attestation-url': ctx.attestation?.provenance.url ?? '',
    'attestation-bundle-path': ctx.attestation?.provenance.bundlePath ?? '',
    'image-id': ctx.glanceImage?.id ?? '',
    'image-ids': ctx.glanceImage ? JSON.stringify(ctx.glanceImage.ids) : '',
    'image-url': ctx.glanceImage?.url ?? '',
    'os-hash-value': ctx.glanceImage?.osHashValue ?? '',
    'glance-reused': ctx.glanceImage ? String(ctx.glanceImage.reused) : ''
  }
}

/** `reproducible`: set on failure too, so a workflow can tell a mismatch from another failure. */
export function reproducibleOutput(ctx: Context): { reproducible: string } {
  return { reproducible: ctx.reproducible === undefined ? 'unchecked' : String(ctx.reproducible) }
}

/** What mode: cleanup deleted, as Markdown for the job summary. */
export function deletedMarkdown(ctx: Context): string {
  const deleted = ctx.deleted ?? []
  const pr = ctx.config.github.cleanup?.pr
  if (deleted.length === 0) return `\nNothing of pull request #${pr} was left to delete.\n`
  return [
    '',
    `Deleted for pull request #${pr}:`,
    '',
    '| kind | name | id |',
    '| --- | --- | --- |',
    ...deleted.map(
      item => `| ${item.kind} | ${item.name}${item.target ? ` (${item.target})` : ''} | ${item.id} |`
    ),
    ''
  ].join('\n')
}

/** `boot-test` and `boot-seconds`; set on failure too, so a workflow can tell a failed gate. */
export function bootTestOutputs(ctx: Context): Record<string, string> {
  const report = ctx.bootTest
  const seconds: Record<string, number> = {}
  for (const boot of report?.boots ?? []) {
    if (boot.seconds !== undefined) seconds[boot.firmware] = Math.round(boot.seconds * 10) / 10
  }
  return { 'boot-test': report?.result ?? 'skipped', 'boot-seconds': JSON.stringify(seconds) }
}

/** The boot test for the job summary: every check of every boot, and the console tail of a failed one. */
export function bootTestHtml(ctx: Context): string {
  const report = ctx.bootTest
  if (!report) return ''
  const rows = [
    ...report.boots.flatMap(boot => boot.checks.map(check => ({ firmware: boot.firmware, ...check }))),
    ...report.across.map(check => ({ firmware: 'both', ...check }))
  ]
  const parts = [
    `<h3>Boot test: ${report.result}</h3>`,
    '<table><tr><th>firmware</th><th>check</th><th>result</th><th>detail</th></tr>',
    ...rows.map(
      row =>
        `<tr><td>${row.firmware}</td><td>${escapeHtml(row.name)}</td><td>${row.ok ? 'ok' : '<b>failed</b>'}</td><td>${escapeHtml(row.detail)}</td></tr>`
    ),
    '</table>'
  ]
  for (const boot of report.boots) {
    if (boot.checks.every(check => check.ok)) continue
    const where = boot.consoleLog ? ` (the whole log: ${escapeHtml(boot.consoleLog)})` : ''
    parts.push(
      `<details open><summary>Serial console of the ${boot.firmware} boot, last lines${where}</summary>`,
      `<pre>${escapeHtml(boot.consoleTail)}</pre></details>`
    )
  }
  return parts.join('\n')
}

/** diffoscope's comparison after a mismatch: the start of its report and where the whole is. */
export function diffoscopeHtml(ctx: Context): string {
  const report = ctx.diffoscope
  if (!report) return ''
  const heading = `<h3>Differences from ${escapeHtml(report.reference)}</h3>`
  if (report.missing)
    return `${heading}\n<p>diffoscope is not installed (Debian: <code>diffoscope-minimal</code>): no report of the differences.</p>`
  if (report.failed)
    return `${heading}\n<p>diffoscope could not compare the images: ${escapeHtml(report.failed)}</p>`
  if (report.same)
    return `${heading}\n<p>The root filesystems are the same; the difference is elsewhere on the disk.</p>`
  return [
    heading,
    `<details open><summary>diffoscope, first lines (the whole report: ${escapeHtml(report.textPath ?? '')}, ${escapeHtml(report.htmlPath ?? '')})</summary>`,
    `<pre>${escapeHtml(report.head ?? '')}</pre></details>`
  ].join('\n')
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
    record.result === 'not run' || record.result === 'skipped' ? '-' : `${record.seconds.toFixed(1)} s`,
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
  if (ctx.attestation) rows.push(['attestation', ctx.attestation.provenance.url])
  const glance = ctx.glanceImage
  if (glance) {
    rows.push([
      'Glance image',
      `${glance.id} (${glance.reused ? 'reused: identical image already active' : 'uploaded'})`
    ])
    rows.push(['Glance URL', glance.url])
    if (Object.keys(glance.ids).length > 1) {
      rows.push([
        'Glance images',
        Object.entries(glance.ids)
          .map(([target, id]) => `${target}: ${id}`)
          .join(', ')
      ])
    }
    if (glance.rotated?.length) {
      const verb = ctx.config.glance?.rotate === 'hide' ? 'hide' : 'delete'
      const label = ctx.config.glance?.rotateDryRun
        ? `rotation would ${verb}`
        : `rotation ${verb === 'hide' ? 'hid' : 'deleted'}`
      rows.push([label, glance.rotated.join(', ')])
    }
  }
  return rows
}
