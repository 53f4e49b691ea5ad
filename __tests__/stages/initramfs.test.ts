import { describe, expect, it } from '@jest/globals'
import { presetPath } from '../../src/image/layout.js'
import { mkinitcpioPreset } from '../../src/stages/initramfs.js'

describe('mkinitcpio preset', () => {
  it('builds one image per kernel without the autodetect hook', () => {
    expect(presetPath('linux-lts')).toBe('etc/mkinitcpio.d/linux-lts.preset')
    const text = mkinitcpioPreset('linux-lts')
    expect(text).toContain('ALL_kver="/boot/vmlinuz-linux-lts"\n')
    expect(text).toContain("PRESETS=('default')\n")
    expect(text).toContain('default_image="/boot/initramfs-linux-lts.img"\n')
    expect(text).toContain('default_options="-S autodetect"\n')
    expect(text).not.toContain('fallback_')
  })
})
