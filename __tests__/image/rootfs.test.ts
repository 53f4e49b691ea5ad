import { describe, expect, it } from '@jest/globals'
import { mkdirSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { insideRoot, manifestText } from '../../src/image/rootfs.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('manifest', () => {
  it('writes the manifest as name and version per line', () => {
    expect(
      manifestText([
        { name: 'base', version: '3-2' },
        { name: 'linux', version: '6.17.1.arch1-1' }
      ])
    ).toBe('base 3-2\nlinux 6.17.1.arch1-1\n')
  })
})

describe('writing into the image', () => {
  it('refuses paths that a link would lead out of the root', () => {
    const dir = tempDir()
    const root = path.join(dir, 'root')
    mkdirSync(path.join(root, 'etc'), { recursive: true })
    symlinkSync('/etc', path.join(root, 'hostetc'))
    symlinkSync('/etc/passwd', path.join(root, 'etc/passwd'))
    symlinkSync('usr/bin', path.join(root, 'bin'))
    mkdirSync(path.join(root, 'usr/bin'), { recursive: true })
    expect(insideRoot(root, 'etc/fstab')).toBe(path.join(root, 'etc/fstab'))
    expect(insideRoot(root, 'bin/tool')).toBe(path.join(root, 'bin/tool'))
    expect(() => insideRoot(root, 'hostetc/shadow')).toThrow(/leads outside the image/)
    expect(() => insideRoot(root, 'etc/passwd')).toThrow(/is a symbolic link in the image/)
    expect(() => insideRoot(root, '../escape')).toThrow(/outside the image/)
  })
})
