// Checksums of a file, read once (images are gigabytes).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

const MiB = 1024 * 1024

/** sha256 and sha512 of a file in one read. */
export async function hashFile(file: string): Promise<{ size: number; sha256: string; sha512: string }> {
  const sha256 = createHash('sha256')
  const sha512 = createHash('sha512')
  let size = 0
  for await (const chunk of createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>) {
    sha256.update(chunk)
    sha512.update(chunk)
    size += chunk.length
  }
  return { size, sha256: sha256.digest('hex'), sha512: sha512.digest('hex') }
}
