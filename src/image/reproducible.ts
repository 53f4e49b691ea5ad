// What makes an image a function of its inputs: the time its files are dated (SOURCE_DATE_EPOCH) and
// the ids (GPT, filesystems) derived from the inputs instead of drawn at random.
import { createHash } from 'node:crypto'
import type { Context, ImageIds } from '../pipeline/context.js'
import { readPackageRecords } from '../sbom/pacman-db.js'

/** The snapshot date `YYYY/MM/DD` at 00:00 UTC, in Unix seconds. */
export function snapshotEpoch(snapshotDate: string): number {
  return Date.parse(`${snapshotDate.replaceAll('/', '-')}T00:00:00Z`) / 1000
}

/**
 * The image's SOURCE_DATE_EPOCH before packages are installed: the input, else the snapshot date.
 * Undefined for a mirror build without the input: then it is the newest package's build date, known
 * once pacstrap has run (newestBuildDate).
 */
export function sourceDateEpochBeforeInstall(
  given: number | undefined,
  snapshotDate: string | undefined
): number | undefined {
  if (given !== undefined) return given
  return snapshotDate ? snapshotEpoch(snapshotDate) : undefined
}

/**
 * SOURCE_DATE_EPOCH for the commands that honour it (pacman >= 7.1, mkinitcpio, mke2fs), once it is
 * known; passed explicitly through the exec seam (RunOptions.env).
 */
export function sourceDateEpochEnv(ctx: Pick<Context, 'sourceDateEpoch'>): Record<string, string> {
  return ctx.sourceDateEpoch === undefined ? {} : { SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch) }
}

/** The newest `%BUILDDATE%` of the packages in the image's pacman database (read as the SBOM reads it). */
export function newestBuildDate(rootDir: string): number {
  const newest = Math.max(0, ...readPackageRecords(rootDir).map(record => record.buildDate ?? 0))
  if (newest === 0) throw new Error(`no package in ${rootDir}/var/lib/pacman/local has a %BUILDDATE%`)
  return newest
}

function uuidFrom(seed: string, purpose: string): string {
  const hex = createHash('sha256').update(`${seed}\0${purpose}`).digest('hex').slice(0, 32).split('')
  // An RFC 9562 version 8 (custom) UUID: valid where tools check the variant and version bits.
  hex[12] = '8'
  hex[16] = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16)
  const h = hex.join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * The ids of an image, from what names it: the image name, where its packages come from (the
 * snapshot date, or `mirror`) and the source-date-epoch input (`auto` when left to its default).
 * Two images of the same name and inputs share their ids, as two copies of one image do.
 */
export type { ImageIds }

export function imageIds(imageName: string, snapshotDate: string | undefined, epochInput?: number): ImageIds {
  const seed = ['arch-image', imageName, snapshotDate ?? 'mirror', epochInput ?? 'auto'].join('\0')
  return {
    diskGuid: uuidFrom(seed, 'gpt-disk'),
    partitionGuids: [uuidFrom(seed, 'gpt-bios'), uuidFrom(seed, 'gpt-esp'), uuidFrom(seed, 'gpt-root')],
    rootUuid: uuidFrom(seed, 'root-fs'),
    hashSeed: uuidFrom(seed, 'root-hash-seed'),
    espVolumeId: createHash('sha256').update(`${seed}\0esp-volume-id`).digest('hex').slice(0, 8)
  }
}

/**
 * The inodes in use, from `dumpe2fs` output (its per-group "Free inodes:" ranges): those a debugfs
 * pass has to date. Reserved inodes below the first ordinary one are mkfs's own, dated by
 * E2FSPROGS_FAKE_TIME; the root directory (2) is the exception.
 */
export function usedInodes(dumpe2fs: string): number[] {
  const perGroup = Number(/^Inodes per group:\s+(\d+)$/m.exec(dumpe2fs)?.[1])
  const firstInode = Number(/^First inode:\s+(\d+)$/m.exec(dumpe2fs)?.[1] ?? 11)
  if (!perGroup) throw new Error('dumpe2fs printed no "Inodes per group"')
  const used: number[] = [2]
  const groups = dumpe2fs.split(/^Group (\d+): /m).slice(1)
  for (let i = 0; i < groups.length; i += 2) {
    const group = Number(groups[i])
    const text = groups[i + 1] as string
    const free = new Set<number>()
    const ranges = /^\s+Free inodes: ?(.*)$/m.exec(text)?.[1] ?? ''
    for (const range of ranges
      .split(',')
      .map(r => r.trim())
      .filter(Boolean)) {
      const [from, to] = range.split('-').map(Number) as [number, number | undefined]
      for (let n = from; n <= (to ?? from); n++) free.add(n)
    }
    for (let n = group * perGroup + 1; n <= (group + 1) * perGroup; n++) {
      if (n >= firstInode && !free.has(n)) used.push(n)
    }
  }
  return used
}

/** A debugfs command file dating the inodes' access and change times to `epoch` (mkfs -d copies the tree's). */
export function debugfsDatingScript(inodes: number[], epoch: number): string {
  return inodes.map(n => `sif <${n}> atime @${epoch}\nsif <${n}> ctime @${epoch}\n`).join('')
}
