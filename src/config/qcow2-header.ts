// What a qcow2 file's header says about data kept outside it. An image with a backing file or an
// external data file is not self-contained: Glance would store a header that names a path on the
// machine that reads it (qemu opens that path when the image is used), and not the data there.
import { closeSync, openSync, readSync } from 'node:fs'

const MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]) // "QFI\xfb"
const INCOMPATIBLE_EXTERNAL_DATA_FILE = 1n << 2n
const HEADER_BYTES = 104
const MAX_BACKING_NAME = 1023

export interface Qcow2Header {
  version: number
  /** The backing file named in the header (empty when there is none). */
  backingFile: string
  /** Incompatible feature bit 2 (version 3): the guest data lives in an external data file. */
  externalDataFile: boolean
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  const read = readSync(fd, buffer, 0, length, position)
  return buffer.subarray(0, read)
}

/** The header of a qcow2 file, or undefined when the file is not qcow2 (raw). */
export function readQcow2Header(file: string): Qcow2Header | undefined {
  const fd = openSync(file, 'r')
  try {
    const header = readAt(fd, 0, HEADER_BYTES)
    if (header.length < 72 || !header.subarray(0, 4).equals(MAGIC)) return undefined
    const version = header.readUInt32BE(4)
    const backingOffset = header.readBigUInt64BE(8)
    const backingSize = header.readUInt32BE(16)
    let backingFile = ''
    if (backingOffset !== 0n) {
      const name = readAt(fd, Number(backingOffset), Math.min(backingSize, MAX_BACKING_NAME))
      backingFile = name.toString('utf8') || '(unreadable name)'
    }
    const externalDataFile =
      version >= 3 &&
      header.length >= 80 &&
      (header.readBigUInt64BE(72) & INCOMPATIBLE_EXTERNAL_DATA_FILE) !== 0n
    return { version, backingFile, externalDataFile }
  } finally {
    closeSync(fd)
  }
}

/** Why `file` cannot be published as it is, or undefined when it is self-contained. */
export function selfContainedProblem(input: string, file: string): string | undefined {
  let header: Qcow2Header | undefined
  try {
    header = readQcow2Header(file)
  } catch (error) {
    return `${input}: ${file} cannot be read: ${(error as Error).message}`
  }
  if (!header) return undefined
  const flatten = `flatten it first: qemu-img convert -O qcow2 ${file} <new file>`
  if (header.backingFile) {
    return `${input}: ${file} is a qcow2 with a backing file (${JSON.stringify(header.backingFile)}); Glance would get only the changes on top of it; ${flatten}`
  }
  if (header.externalDataFile) {
    return `${input}: ${file} is a qcow2 whose data lives in an external data file; Glance would get the header without the data; ${flatten}`
  }
  return undefined
}
