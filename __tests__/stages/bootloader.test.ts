// The boot loader's files, read against the ArchWiki "OpenStack" list and Arch's official cloud image.
import { describe, expect, it } from '@jest/globals'
import { efiEarlyConfig, grubDefaults, kernelCmdline, rootByUuid } from '../../src/stages/bootloader.js'
import { config } from '../../test/support/config.js'

describe('GRUB', () => {
  it('puts the console on tty0 and ttyS0 and names NICs eth0 by default', () => {
    expect(kernelCmdline(config())).toBe('console=tty0 console=ttyS0,115200 net.ifnames=0')
    expect(
      kernelCmdline(config({ 'predictable-nic-names': 'true', 'kernel-cmdline': 'quiet mitigations=off' }))
    ).toBe('console=tty0 console=ttyS0,115200 quiet mitigations=off')
  })

  it('writes defaults with a serial terminal, no os-prober and the command line', () => {
    const text = grubDefaults(config())
    expect(text).toContain('GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200 net.ifnames=0"\n')
    expect(text).toContain('GRUB_TERMINAL_INPUT="console serial"\n')
    expect(text).toContain('GRUB_TERMINAL_OUTPUT="console serial"\n')
    expect(text).toContain('GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n')
    expect(text).toContain('GRUB_DISABLE_OS_PROBER=true\n')
  })

  it('makes BOOTX64.EFI find root by UUID and load its grub.cfg', () => {
    expect(efiEarlyConfig('1234-abcd')).toBe(
      'search --no-floppy --fs-uuid --set=root 1234-abcd\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n'
    )
  })

  it('replaces the build host loop partition in grub.cfg with the root UUID, and nothing else', () => {
    const cfg = [
      '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p3 rw  console=tty0',
      '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p30 rw',
      ''
    ].join('\n')
    expect(rootByUuid(cfg, '/dev/loop3p3', 'u-u')).toBe(
      [
        '\tlinux\t/boot/vmlinuz-linux root=UUID=u-u rw  console=tty0',
        '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p30 rw',
        ''
      ].join('\n')
    )
  })
})
