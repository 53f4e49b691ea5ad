// The small shared pieces in src/util/.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { findCommand } from '../../src/util/commands.js'
import { hashFile } from '../../src/util/hash.js'
import { escapeHtml } from '../../src/util/html.js'
import { hostFamily, osReleaseIds } from '../../src/util/os-release.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('findCommand', () => {
  it('finds an executable on the search path, first directory first, and nothing else', () => {
    const [a, b] = [tempDir(), tempDir()]
    for (const dir of [a, b]) {
      writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n')
      chmodSync(path.join(dir, 'tool'), 0o755)
    }
    writeFileSync(path.join(a, 'plain'), 'not executable')
    expect(findCommand('tool', `${a}:${b}`)).toBe(path.join(a, 'tool'))
    expect(findCommand('plain', `${a}:${b}`)).toBeUndefined()
    expect(findCommand('missing', `${a}:${b}`)).toBeUndefined()
  })
})

describe('os-release', () => {
  it('reads ID and ID_LIKE, quoted or not', () => {
    expect(osReleaseIds('NAME="Ubuntu"\nID=ubuntu\nID_LIKE="debian"\n')).toEqual(['ubuntu', 'debian'])
    expect(hostFamily('ID="manjaro"\nID_LIKE=arch\n')).toBe('arch')
    expect(hostFamily("ID='debian'\n")).toBe('debian')
    expect(hostFamily('ID=fedora\n')).toBe('other')
    expect(hostFamily('')).toBe('other')
  })
})

describe('hashFile', () => {
  it('gives the size, sha256 and sha512 of the bytes', async () => {
    const file = path.join(tempDir(), 'f')
    writeFileSync(file, 'arch-image')
    const hex = (algo: string) => createHash(algo).update('arch-image').digest('hex')
    expect(await hashFile(file)).toEqual({ size: 10, sha256: hex('sha256'), sha512: hex('sha512') })
  })
})

describe('escapeHtml', () => {
  it('escapes what would open a tag or an attribute', () => {
    expect(escapeHtml(`<b a="1">&'`)).toBe(`&lt;b a=&quot;1&quot;&gt;&amp;'`)
  })
})
