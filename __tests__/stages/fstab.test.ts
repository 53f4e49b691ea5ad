import { describe, expect, it } from '@jest/globals'
import { fstabText } from '../../src/stages/fstab.js'

describe('fstab', () => {
  it('mounts root and the ESP by UUID, fsck order 1 for ext4', () => {
    const lines = fstabText('ext4', 'r-uuid', 'E-UUID').split('\n')
    expect(lines[1]?.split(/\s+/)).toEqual(['UUID=r-uuid', '/', 'ext4', 'rw,relatime', '0', '1'])
    expect(lines[2]?.split(/\s+/)).toEqual([
      'UUID=E-UUID',
      '/efi',
      'vfat',
      'rw,relatime,umask=0077,nofail',
      '0',
      '2'
    ])
  })

  it('mounts btrfs with zstd:1 compression and no fsck', () => {
    const root = fstabText('btrfs', 'r', 'e').split('\n')[1]?.split(/\s+/)
    expect(root).toEqual(['UUID=r', '/', 'btrfs', 'rw,relatime,compress=zstd:1', '0', '0'])
  })
})
