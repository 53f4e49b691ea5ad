// Package URLs of Arch packages, encoded per the purl spec.
import { describe, expect, it } from '@jest/globals'
import { alpmPurl } from '../../src/sbom/purl.js'

describe('alpmPurl', () => {
  it('names the package, version and architecture', () => {
    expect(
      alpmPurl({ name: 'glibc', version: '2.40+r16+gaa533d58ff-2', arch: 'x86_64', base: 'glibc' })
    ).toBe('pkg:alpm/arch/glibc@2.40%2Br16%2Bgaa533d58ff-2?arch=x86_64')
  })

  it('adds upstream (after arch: qualifiers are sorted) when the base differs from the name', () => {
    expect(alpmPurl({ name: 'gcc-libs', version: '14.2.1-1', arch: 'x86_64', base: 'gcc' })).toBe(
      'pkg:alpm/arch/gcc-libs@14.2.1-1?arch=x86_64&upstream=gcc'
    )
  })

  it("percent-encodes '+' and what else the spec reserves, and keeps an epoch's ':'", () => {
    expect(alpmPurl({ name: 'libsigc++', version: '2.12.1-2', arch: 'x86_64', base: 'libsigc++' })).toBe(
      'pkg:alpm/arch/libsigc%2B%2B@2.12.1-2?arch=x86_64'
    )
    expect(alpmPurl({ name: 'less', version: '1:668-1', arch: 'x86_64' })).toBe(
      'pkg:alpm/arch/less@1:668-1?arch=x86_64'
    )
    expect(alpmPurl({ name: 'a', version: '1@2#3', arch: 'any', base: 'a b' })).toBe(
      'pkg:alpm/arch/a@1%402%233?arch=any&upstream=a%20b'
    )
  })
})
