import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { hashFile } from '../../src/util/hash.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('hashFile', () => {
  it('gives the size, sha256 and sha512 of the bytes', async () => {
    const file = path.join(tempDir(), 'f')
    writeFileSync(file, 'arch-image')
    const hex = (algo: string) => createHash(algo).update('arch-image').digest('hex')
    expect(await hashFile(file)).toEqual({ size: 10, sha256: hex('sha256'), sha512: hex('sha512') })
  })
})
