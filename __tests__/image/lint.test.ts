import { describe, expect, it } from '@jest/globals'
import { fstabProblems } from '../../src/image/lint.js'

describe('fstab lint', () => {
  it('accepts our fstab and finds wrong, foreign or missing entries', () => {
    expect(fstabProblems('UUID=r / ext4 rw 0 1\nUUID=e /efi vfat rw 0 2\n', 'r', 'e')).toEqual([])
    expect(fstabProblems('UUID=x / ext4 rw 0 1\n', 'r', 'e')).toEqual([
      'fstab: UUID=x is not a filesystem of this image',
      "fstab: / is not mounted by the root filesystem's UUID (UUID=x)"
    ])
    expect(fstabProblems('# nothing\n/dev/vda1 /data ext4\n', 'r', 'e')).toEqual([
      'fstab: "/dev/vda1 /data ext4" does not have six fields',
      'fstab: no entry for /'
    ])
  })
})
