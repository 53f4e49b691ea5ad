import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CACHE_MARKER } from '../../src/cache/cache-dir.js'
import { countPackageFiles, parsePackageFileName, prunePackageCache } from '../../src/cache/prune.js'

describe('parsePackageFileName', () => {
  it.each([
    ['linux-6.9.3.arch1-1-x86_64.pkg.tar.zst', 'linux', '6.9.3.arch1-1', 'x86_64', false],
    [
      'lib32-glibc-2.40+r16+gaa533d58ff-2-x86_64.pkg.tar.zst',
      'lib32-glibc',
      '2.40+r16+gaa533d58ff-2',
      'x86_64',
      false
    ],
    ['python-3.12.7-1-x86_64.pkg.tar.zst', 'python', '3.12.7-1', 'x86_64', false],
    ['python-setuptools-1:69.0.3-1-any.pkg.tar.zst', 'python-setuptools', '1:69.0.3-1', 'any', false],
    ['foo-1:2.3-4-x86_64.pkg.tar.zst.sig', 'foo', '1:2.3-4', 'x86_64', true],
    [
      'ca-certificates-mozilla-3.101-1.1-x86_64.pkg.tar.xz',
      'ca-certificates-mozilla',
      '3.101-1.1',
      'x86_64',
      false
    ],
    ['foo-1-2-3-any.pkg.tar', 'foo-1', '2-3', 'any', false],
    ['libstdc++5-3.3.6-9-x86_64.pkg.tar.zst', 'libstdc++5', '3.3.6-9', 'x86_64', false],
    ['xorg-font-util-1.4.1-1-x86_64.pkg.tar.gz', 'xorg-font-util', '1.4.1-1', 'x86_64', false],
    // Not makepkg's pkgrel, but pacman installs it (the stand-in repository repacks Debian's packages).
    [
      'bsdutils-1:2.38.1-5+deb12u3.9462cc92-x86_64.pkg.tar.zst',
      'bsdutils',
      '1:2.38.1-5+deb12u3.9462cc92',
      'x86_64',
      false
    ]
  ])('%s', (file, name, version, arch, signature) => {
    expect(parsePackageFileName(file)).toMatchObject({ name, version, arch, signature })
  })

  it.each([
    'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst.part',
    'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst.sig.part',
    'download-Xa3kQ9',
    'core.db',
    'linux-6.9.3.arch1-x86_64.pkg.tar.zst',
    'linux-6.9.3.arch1-1-x86_64.tar.zst',
    'linux-6.9.3.arch1-1-x86-64.pkg.tar.zst',
    'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst~',
    '.linux-6.9.3.arch1-1-x86_64.pkg.tar.zst'
  ])('%s is not a package file', file => {
    expect(parsePackageFileName(file)).toBeUndefined()
  })
})

describe('prunePackageCache', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-prune-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const installed = [
    { name: 'lib32-glibc', version: '2.40+r16+gaa533d58ff-2' },
    { name: 'glibc', version: '2.40+r16+gaa533d58ff-2' },
    { name: 'python', version: '3.12.7-1' },
    { name: 'python-setuptools', version: '1:69.0.3-1' },
    { name: 'linux', version: '6.9.3.arch1-1' },
    { name: 'foo-1', version: '2-3' }
  ]

  it('keeps exactly the files (and signatures) of installed names and versions', () => {
    const keep = [
      'lib32-glibc-2.40+r16+gaa533d58ff-2-x86_64.pkg.tar.zst',
      'lib32-glibc-2.40+r16+gaa533d58ff-2-x86_64.pkg.tar.zst.sig',
      'glibc-2.40+r16+gaa533d58ff-2-x86_64.pkg.tar.zst',
      'python-3.12.7-1-x86_64.pkg.tar.zst',
      'python-setuptools-1:69.0.3-1-any.pkg.tar.zst',
      'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst',
      'foo-1-2-3-any.pkg.tar.zst'
    ]
    const remove = [
      'glibc-2.39+r52+gf8e4623421-1-x86_64.pkg.tar.zst', // an older version
      'python-3.12.6-1-x86_64.pkg.tar.zst',
      'python-pip-3.12.7-1-any.pkg.tar.zst', // not installed, though "python" and "3.12.7-1" are
      'python-setuptools-69.0.3-1-any.pkg.tar.zst', // the version without the installed epoch
      'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst.part', // an interrupted download
      'foo-1-2-any.pkg.tar.zst', // foo 1-2: not foo-1 2-3
      'core.db',
      'vim-9.1.0-1-x86_64.pkg.tar.zst.sig' // a signature of something not installed
    ]
    for (const file of [...keep, ...remove]) writeFileSync(path.join(dir, file), 'x'.repeat(100))
    mkdirSync(path.join(dir, 'download-Xa3kQ9'))
    writeFileSync(path.join(dir, 'download-Xa3kQ9', 'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst'), 'partial')
    // A link named like a kept package is not a package file.
    symlinkSync('/etc/hostname', path.join(dir, 'python-3.12.7-1-any.pkg.tar.zst'))

    const result = prunePackageCache(dir, installed)
    expect(result).toEqual({
      kept: keep.length,
      keptBytes: keep.length * 100,
      removed: remove.length + 2,
      removedBytes: remove.length * 100,
      failed: []
    })
    expect(readdirSync(dir).sort()).toEqual([...keep].sort())
    expect(existsSync('/etc/hostname')).toBe(true)
  })

  it('prunes everything when nothing is installed (but our marker), and a missing directory is an empty cache', () => {
    writeFileSync(path.join(dir, 'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst'), 'x')
    writeFileSync(path.join(dir, CACHE_MARKER), 'ours')
    expect(prunePackageCache(dir, [])).toMatchObject({ kept: 0, removed: 1 })
    expect(readdirSync(dir)).toEqual([CACHE_MARKER])
    expect(prunePackageCache(path.join(dir, 'absent'), installed)).toEqual({
      kept: 0,
      keptBytes: 0,
      removed: 0,
      removedBytes: 0,
      failed: []
    })
  })

  it('never throws: an unreadable directory is reported', () => {
    const file = path.join(dir, 'not-a-directory')
    writeFileSync(file, '')
    const result = prunePackageCache(file, installed)
    expect(result.failed).toHaveLength(1)
    expect(result.failed[0]).toMatch(/ENOTDIR/)
  })

  it('countPackageFiles counts package files, not signatures or partial downloads', () => {
    writeFileSync(path.join(dir, 'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst'), 'x'.repeat(10))
    writeFileSync(path.join(dir, 'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst.sig'), 'x')
    writeFileSync(path.join(dir, 'vim-9.1.0-1-x86_64.pkg.tar.zst.part'), 'x')
    expect(countPackageFiles(dir)).toEqual({ files: 1, bytes: 10 })
    expect(countPackageFiles(path.join(dir, 'absent'))).toEqual({ files: 0, bytes: 0 })
  })
})
