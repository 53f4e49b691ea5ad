// What changed between two package manifests (`name version` per line, as the seal stage writes them).
import { vercmp } from './vercmp.js'

export interface VersionChange {
  name: string
  from: string
  to: string
}

export interface PackageDiff {
  added: { name: string; version: string }[]
  removed: { name: string; version: string }[]
  upgraded: VersionChange[]
  downgraded: VersionChange[]
}

/** Kernels lead every list: they are what a reader of a new image checks first. */
const KERNEL = /^linux(-lts|-zen|-hardened|-rt|-rt-lts)?$/

export function parseManifest(text: string): Map<string, string> {
  const packages = new Map<string, string>()
  for (const [index, line] of text.split('\n').entries()) {
    if (!line.trim()) continue
    const fields = line.trim().split(/\s+/)
    if (fields.length !== 2) {
      throw new Error(`line ${index + 1} is not "name version": ${JSON.stringify(line.slice(0, 80))}`)
    }
    packages.set(fields[0] as string, fields[1] as string)
  }
  return packages
}

function byKernelThenName(a: { name: string }, b: { name: string }): number {
  const ka = KERNEL.test(a.name)
  const kb = KERNEL.test(b.name)
  if (ka !== kb) return ka ? -1 : 1
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

export function diffManifests(previous: Map<string, string>, current: Map<string, string>): PackageDiff {
  const diff: PackageDiff = { added: [], removed: [], upgraded: [], downgraded: [] }
  for (const [name, version] of current) {
    const before = previous.get(name)
    if (before === undefined) diff.added.push({ name, version })
    else if (vercmp(version, before) > 0) diff.upgraded.push({ name, from: before, to: version })
    else if (vercmp(version, before) < 0) diff.downgraded.push({ name, from: before, to: version })
  }
  for (const [name, version] of previous) {
    if (!current.has(name)) diff.removed.push({ name, version })
  }
  for (const list of Object.values(diff)) (list as { name: string }[]).sort(byKernelThenName)
  return diff
}

export function isEmptyDiff(diff: PackageDiff): boolean {
  return Object.values(diff).every(list => list.length === 0)
}

export function diffCounts(diff: PackageDiff): string {
  return `${diff.upgraded.length} upgraded, ${diff.downgraded.length} downgraded, ${diff.added.length} added, ${diff.removed.length} removed`
}

/** The diff as Markdown (job summary and PR comment): one table, changes before additions and removals. */
export function diffMarkdown(diff: PackageDiff, against: string): string {
  if (isEmptyDiff(diff)) return `No package changes since ${against}.\n`
  const rows = [
    ...diff.upgraded.map(c => [c.name, 'upgraded', c.from, c.to]),
    ...diff.downgraded.map(c => [c.name, 'downgraded', c.from, c.to]),
    ...diff.added.map(p => [p.name, 'added', '', p.version]),
    ...diff.removed.map(p => [p.name, 'removed', p.version, ''])
  ]
  // Kernel rows first, whatever their kind (a switch to linux-lts is an addition and a removal).
  const kernelFirst = [
    ...rows.filter(row => KERNEL.test(row[0] as string)),
    ...rows.filter(row => !KERNEL.test(row[0] as string))
  ]
  return [
    `Packages since ${against}: ${diffCounts(diff)}.`,
    '',
    '| package | change | before | now |',
    '| --- | --- | --- | --- |',
    ...kernelFirst.map(row => `| ${row.join(' | ')} |`.replace(/ {2}/g, ' ')),
    ''
  ].join('\n')
}
