// The image's pacman local database read as SBOM records, from a database written in a temp dir the
// way pacman writes it; a link in it is never followed.
import { describe, expect, it } from '@jest/globals'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { packageRecord, parseDesc, readPackageRecords } from '../../src/sbom/pacman-db.js'
import { SAMPLE_PACKAGES, writePacmanDb } from '../../test/support/pacman-db.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('parseDesc', () => {
  it('reads each %KEY% section with its lines, up to the blank line', () => {
    const sections = parseDesc('%NAME%\nfoo\n\n%LICENSE%\nMIT\nBSD-2-Clause\n\n%EMPTY%\n\n')
    expect([...sections]).toEqual([
      ['NAME', ['foo']],
      ['LICENSE', ['MIT', 'BSD-2-Clause']],
      ['EMPTY', []]
    ])
  })
})

describe('readPackageRecords', () => {
  it('reads every field the SBOM records, sorted by name, without the install date', () => {
    const root = tempDir()
    writePacmanDb(root, SAMPLE_PACKAGES)
    const records = readPackageRecords(root)
    expect(records.map(record => record.name)).toEqual([
      'filesystem',
      'gcc-libs',
      'glibc',
      'less',
      'libsigc++',
      'tzdata'
    ])
    expect(records.find(record => record.name === 'gcc-libs')).toEqual({
      name: 'gcc-libs',
      version: '14.2.1+r134+gab884fffe3fc-1',
      base: 'gcc',
      description: 'Runtime libraries shipped by GCC',
      url: 'https://gcc.gnu.org',
      arch: 'x86_64',
      buildDate: 1731000000,
      packager: 'Frederik Schwan <freswa@archlinux.org>',
      installedSize: 143251632,
      licenses: ['GPL-3.0-or-later WITH GCC-exception-3.1'],
      depends: ['glibc>=2.27'],
      provides: ['libgcc_s.so=1-64', 'libstdc++.so=6-64']
    })
    // No license, packager or build date: the fields are absent, not empty.
    expect(records.find(record => record.name === 'filesystem')).toEqual({
      name: 'filesystem',
      version: '2024.11.21-1',
      base: 'filesystem',
      description: 'Base Arch Linux files',
      url: 'https://archlinux.org',
      arch: 'any',
      packager: 'David Runge <dvzrv@archlinux.org>',
      installedSize: 22000,
      licenses: [],
      depends: [],
      provides: []
    })
  })

  it('refuses a desc that is a link (it could pull a host file into a published document)', () => {
    const dir = tempDir()
    const root = path.join(dir, 'root')
    const local = writePacmanDb(root, SAMPLE_PACKAGES.slice(0, 1))
    const secret = path.join(dir, 'host-secret')
    writeFileSync(secret, '%NAME%\nsecret\n\n%VERSION%\n1\n')
    mkdirSync(path.join(local, 'evil-1-1'))
    symlinkSync(secret, path.join(local, 'evil-1-1/desc'))
    expect(() => readPackageRecords(root)).toThrow(
      '/var/lib/pacman/local/evil-1-1/desc is not a regular file; refusing to read it'
    )
  })

  it('skips a package directory that is a link, and refuses a database directory leading out of the image', () => {
    const dir = tempDir()
    const outside = path.join(dir, 'outside')
    writePacmanDb(outside, SAMPLE_PACKAGES.slice(0, 2))
    const root = path.join(dir, 'root')
    const local = writePacmanDb(root, SAMPLE_PACKAGES.slice(2, 3))
    symlinkSync(
      path.join(outside, 'var/lib/pacman/local/glibc-2.40+r16+gaa533d58ff-2'),
      path.join(local, 'glibc-1')
    )
    expect(readPackageRecords(root).map(record => record.name)).toEqual(['libsigc++'])

    rmSync(local, { recursive: true })
    symlinkSync(path.join(outside, 'var/lib/pacman/local'), local)
    expect(() => readPackageRecords(root)).toThrow(/\/var\/lib\/pacman\/local leads outside the image/)
  })

  it('names the file whose desc has no name or version', () => {
    expect(() => packageRecord('%DESC%\nx\n', '/var/lib/pacman/local/x/desc')).toThrow(
      '/var/lib/pacman/local/x/desc: no %NAME% or %VERSION%; the pacman database is damaged'
    )
  })
})
