import { describe, expect, it } from '@jest/globals'
import { hostFamily, osReleaseIds } from '../../src/util/os-release.js'

describe('os-release', () => {
  it('reads ID and ID_LIKE, quoted or not', () => {
    expect(osReleaseIds('NAME="Ubuntu"\nID=ubuntu\nID_LIKE="debian"\n')).toEqual(['ubuntu', 'debian'])
    expect(hostFamily('ID="manjaro"\nID_LIKE=arch\n')).toBe('arch')
    expect(hostFamily("ID='debian'\n")).toBe('debian')
    expect(hostFamily('ID=fedora\n')).toBe('other')
    expect(hostFamily('')).toBe('other')
  })

  it.each([
    ['ID=arch\n', 'arch'],
    ['ID=endeavouros\nID_LIKE=arch\n', 'arch'],
    ['ID=debian\n', 'debian'],
    ['ID=ubuntu\nID_LIKE=debian\n', 'debian'],
    ['ID="linuxmint"\nID_LIKE="ubuntu debian"\n', 'debian'],
    ['ID=fedora\n', 'other']
  ])('%j is a %s host', (osRelease, family) => {
    expect(hostFamily(osRelease)).toBe(family)
  })
})
