// Partition node names of an attached disk image.
import { describe, expect, it } from '@jest/globals'
import { partitionNode } from '../../src/image/partitions.js'

describe('partition nodes', () => {
  it('are named as the kernel names them', () => {
    expect(partitionNode('/dev/loop7', 3)).toBe('/dev/loop7p3')
    expect(partitionNode('/dev/sda', 1)).toBe('/dev/sda1')
  })
})
