// bootloader: GRUB for BIOS (core image in the BIOS boot partition) and for UEFI (the removable
// path EFI/BOOT/BOOTX64.EFI), one grub.cfg for both, serial console. The ESP is written with mtools,
// without mounting FAT, so hosts without vfat (containers, some CI kernels) can build images.
import type { Config } from '../config/config.js'
import type { Stage } from '../pipeline/runner.js'
import { inChroot, rootOf } from '../image/chroot.js'
import { insideRoot, writeImageFile } from '../image/rootfs.js'
import { sourceDateEpochEnv } from '../image/reproducible.js'

export function kernelCmdline(config: Config): string {
  const parts = ['console=tty0', 'console=ttyS0,115200']
  if (!config.configure.predictableNicNames) parts.push('net.ifnames=0')
  if (config.configure.kernelCmdline) parts.push(config.configure.kernelCmdline)
  return parts.join(' ')
}

export function grubDefaults(config: Config): string {
  return [
    '# Written by arch-image. Regenerate grub.cfg with: grub-mkconfig -o /boot/grub/grub.cfg',
    'GRUB_DEFAULT=0',
    'GRUB_TIMEOUT=1',
    'GRUB_DISTRIBUTOR="Arch"',
    `GRUB_CMDLINE_LINUX_DEFAULT="${kernelCmdline(config)}"`,
    'GRUB_CMDLINE_LINUX=""',
    'GRUB_PRELOAD_MODULES="part_gpt part_msdos"',
    'GRUB_TERMINAL_INPUT="console serial"',
    'GRUB_TERMINAL_OUTPUT="console serial"',
    'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"',
    'GRUB_GFXMODE=auto',
    'GRUB_GFXPAYLOAD_LINUX=keep',
    'GRUB_DISABLE_RECOVERY=true',
    'GRUB_DISABLE_OS_PROBER=true',
    ''
  ].join('\n')
}

/** Embedded in BOOTX64.EFI: find the root filesystem by UUID and hand over to its grub.cfg. */
export function efiEarlyConfig(rootUuid: string): string {
  return [
    `search --no-floppy --fs-uuid --set=root ${rootUuid}`,
    'set prefix=($root)/boot/grub',
    'configfile $prefix/grub.cfg',
    ''
  ].join('\n')
}

export const EFI_MODULES = [
  'part_gpt',
  'part_msdos',
  'fat',
  'ext2',
  'btrfs',
  'search',
  'search_fs_uuid',
  'normal',
  'configfile',
  'linux',
  'boot',
  'echo',
  'test',
  'gzio',
  'zstd',
  'serial',
  'terminal',
  'all_video',
  'efi_gop',
  'font',
  'gfxterm',
  'sleep'
]

/**
 * grub-mkconfig names root by UUID only when /dev/disk/by-uuid has the link, which needs udev; on a
 * host without it the build's loop partition would end up in grub.cfg. Name it by UUID ourselves.
 */
export function rootByUuid(grubCfg: string, loopPartition: string, rootUuid: string): string {
  return grubCfg.replace(
    new RegExp(`root=${loopPartition.replace(/[/.]/g, '\\$&')}(?=\\s)`, 'g'),
    `root=UUID=${rootUuid}`
  )
}

export const bootloaderStage: Stage = {
  name: 'bootloader',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    const { config, exec } = ctx
    const disk = ctx.disk
    if (!disk) throw new Error('BUG: no disk')
    const root = rootOf(ctx)
    await writeImageFile(ctx, 'etc/default/grub', grubDefaults(config))

    if (config.configure.bootMode !== 'uefi') {
      await inChroot(ctx, ['grub-install', '--target=i386-pc', '--recheck', disk.device])
    }
    if (config.configure.bootMode !== 'bios') {
      // Modules grub.cfg may insmod must be next to it; BOOTX64.EFI carries what it needs to get there.
      const modulesDir = insideRoot(root, 'boot/grub/x86_64-efi')
      await exec.run(['mkdir', '-p', modulesDir], { privileged: true })
      await exec.run(['cp', '-rT', insideRoot(root, 'usr/lib/grub/x86_64-efi'), modulesDir], {
        privileged: true
      })
      // Built inside the image with its own grub, in /var/tmp (arch-chroot mounts a fresh /tmp).
      await writeImageFile(ctx, 'var/tmp/arch-image-grub-early.cfg', efiEarlyConfig(disk.rootUuid))
      await inChroot(ctx, [
        'grub-mkimage',
        '--format=x86_64-efi',
        '--prefix=/boot/grub',
        '--config=/var/tmp/arch-image-grub-early.cfg',
        '--output=/var/tmp/arch-image-BOOTX64.EFI',
        ...EFI_MODULES
      ])
      const efiImage = insideRoot(root, 'var/tmp/arch-image-BOOTX64.EFI')
      // mtools dates the FAT entries it writes by SOURCE_DATE_EPOCH.
      const env = { MTOOLS_SKIP_CHECK: '1', ...sourceDateEpochEnv(ctx) }
      await exec.run(['mmd', '-D', 's', '-i', disk.esp, '::/EFI', '::/EFI/BOOT'], { privileged: true, env })
      await exec.run(['mcopy', '-D', 'o', '-i', disk.esp, efiImage, '::/EFI/BOOT/BOOTX64.EFI'], {
        privileged: true,
        env
      })
      await exec.run(['rm', '-f', '--', efiImage, insideRoot(root, 'var/tmp/arch-image-grub-early.cfg')], {
        privileged: true
      })
    }

    await inChroot(ctx, ['grub-mkconfig', '-o', '/boot/grub/grub.cfg'])
    const cfgPath = insideRoot(root, 'boot/grub/grub.cfg')
    const cfg = (await exec.run(['cat', cfgPath], { privileged: true, quiet: true })).stdout
    const fixed = rootByUuid(cfg, disk.root, disk.rootUuid)
    if (fixed !== cfg) {
      ctx.log.info(`grub.cfg named the build's ${disk.root}; now root=UUID=${disk.rootUuid}`)
      await writeImageFile(ctx, 'boot/grub/grub.cfg', fixed, 0o600)
    }
  }
}
