// The disk the image is built on: its virtual size and the root filesystem.
import type { SectionInput } from '../reader.js'
import { MiB, oneOf, parseSize, quote } from '../validate.js'

export type Filesystem = 'ext4' | 'btrfs'

export interface DiskConfig {
  /** Whole MiB. */
  sizeBytes: number
  filesystem: Filesystem
}

export const MIN_DISK_BYTES = 512 * MiB
const MAX_DISK_BYTES = 2 * 1024 * 1024 * MiB

export function parseDisk({ get, problems }: SectionInput): DiskConfig {
  const text = get('disk-size')
  let sizeBytes = parseSize(text) ?? NaN
  if (Number.isNaN(sizeBytes)) {
    problems.push(`disk-size: ${quote(text)} is not a size; use a number with K, M, G or T (e.g. 2G, 4096M)`)
  } else if (sizeBytes < MIN_DISK_BYTES || sizeBytes > MAX_DISK_BYTES) {
    problems.push(`disk-size: ${quote(text)} is out of range; use between 512M and 2T`)
  } else {
    sizeBytes = Math.ceil(sizeBytes / MiB) * MiB
  }
  const filesystem = oneOf<Filesystem>(problems, 'filesystem', get('filesystem'), ['ext4', 'btrfs'])
  return { sizeBytes, filesystem }
}
