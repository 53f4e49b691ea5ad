// What both SBOM documents share: name-based UUIDs, the creation time from the build's inputs,
// mirror URLs without credentials, and dependencies resolved to installed packages.
import { describe, expect, it } from '@jest/globals'
import { documentUuid, publicServer, resolvedDepends, sbomCreated, uuidV5 } from '../../src/sbom/document.js'
import type { PackageRecord } from '../../src/sbom/pacman-db.js'

function record(name: string, extra: Partial<PackageRecord> = {}): PackageRecord {
  return { name, version: '1-1', arch: 'x86_64', licenses: [], depends: [], provides: [], ...extra }
}

describe('uuidV5', () => {
  it("gives RFC 4122's name-based SHA-1 UUID (the known value for python.org in the DNS namespace)", () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe(
      '886313e1-3b8a-5372-9b90-0c9aee199e5d'
    )
  })
})

describe('documentUuid', () => {
  const subject = { imageName: 'img', fileName: 'img.qcow2', sha256: 'a'.repeat(64), sha512: 'b'.repeat(128) }

  it('depends on the format, the image name and the digest only', () => {
    expect(documentUuid('spdx', subject)).toBe(
      documentUuid('spdx', { ...subject, fileName: 'x', sha512: '' })
    )
    expect(documentUuid('spdx', subject)).not.toBe(documentUuid('cyclonedx', subject))
    expect(documentUuid('spdx', subject)).not.toBe(documentUuid('spdx', { ...subject, imageName: 'other' }))
    expect(documentUuid('spdx', subject)).not.toBe(
      documentUuid('spdx', { ...subject, sha256: 'c'.repeat(64) })
    )
  })
})

describe('sbomCreated', () => {
  it('is the newest build date of the packages', () => {
    expect(
      sbomCreated(
        [record('a', { buildDate: 1700000000 }), record('b', { buildDate: 1731000000 })],
        '2026/12/01'
      )
    ).toBe('2024-11-07T17:20:00Z')
  })

  it('is SOURCE_DATE_EPOCH when the build has one', () => {
    expect(sbomCreated([record('a', { buildDate: 1731000000 })], undefined, 0)).toBe('1970-01-01T00:00:00Z')
  })

  it("falls back to the snapshot's day, then the Unix epoch", () => {
    expect(sbomCreated([record('a')], '2026/12/01')).toBe('2026-12-01T00:00:00Z')
    expect(sbomCreated([])).toBe('1970-01-01T00:00:00Z')
  })
})

describe('publicServer', () => {
  it('drops credentials from a mirror URL and leaves the rest as it was', () => {
    expect(publicServer('https://user:token@mirror.example/arch/$repo/os/$arch')).toBe(
      'https://mirror.example/arch/$repo/os/$arch'
    )
    expect(publicServer('file:///srv/repo/$repo/os/$arch')).toBe('file:///srv/repo/$repo/os/$arch')
    expect(publicServer('not a url')).toBe('not a url')
  })
})

describe('resolvedDepends', () => {
  it('resolves by name, then by provides, without versions, duplicates or the package itself', () => {
    const resolved = resolvedDepends([
      record('app', { depends: ['libfoo.so=2-64', 'glibc>=2.38', 'glibc', 'missing', 'app'] }),
      record('foo', { provides: ['libfoo.so=2-64'] }),
      record('glibc')
    ])
    expect(resolved.get('app')).toEqual(['foo', 'glibc'])
    expect(resolved.get('glibc')).toEqual([])
  })
})
