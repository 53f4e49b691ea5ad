import { describe, expect, it } from '@jest/globals'
import type { Context } from '../../src/pipeline/context.js'
import { hookEnvironment } from '../../src/stages/hooks.js'
import { config as configOf } from '../../test/support/config.js'

describe('hook script environment', () => {
  it('is what the build is, by name, and nothing else', () => {
    const config = configOf({ filesystem: 'btrfs', 'boot-mode': 'uefi' })
    const ctx = { config, imageName: 'arch-cloud-20261124', snapshotDate: '2026/11/24' } as unknown as Context
    expect(hookEnvironment(ctx, 'before-seal')).toEqual({
      ARCH_IMAGE_IMAGE_NAME: 'arch-cloud-20261124',
      ARCH_IMAGE_FAMILY: 'arch-cloud',
      ARCH_IMAGE_SNAPSHOT: '2026/11/24',
      ARCH_IMAGE_KERNEL: 'linux',
      ARCH_IMAGE_FILESYSTEM: 'btrfs',
      ARCH_IMAGE_BOOT_MODE: 'uefi',
      ARCH_IMAGE_HOOK_POINT: 'before-seal'
    })
  })

  it('says an empty snapshot when the build uses a mirror', () => {
    const config = configOf()
    const ctx = { config, imageName: 'x' } as unknown as Context
    expect(hookEnvironment(ctx, 'after-bootstrap').ARCH_IMAGE_SNAPSHOT).toBe('')
  })
})
