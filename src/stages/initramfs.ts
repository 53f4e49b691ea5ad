// initramfs: mkinitcpio without the autodetect hook (it would keep only the build host's drivers,
// not the cloud's), one image per kernel and no fallback image.
import type { Stage } from '../pipeline/runner.js'
import { inChroot, rootOf } from '../image/chroot.js'
import { presetPath } from '../image/layout.js'
import { insideRoot, writeImageFile } from '../image/rootfs.js'
import { sourceDateEpochEnv } from '../image/reproducible.js'

export function mkinitcpioPreset(kernel: string): string {
  return [
    `# mkinitcpio preset for '${kernel}', written by arch-image: no autodetect hook (the image`,
    '# boots on hardware the build host has never seen) and no fallback image.',
    `ALL_kver="/boot/vmlinuz-${kernel}"`,
    '',
    "PRESETS=('default')",
    '',
    `default_image="/boot/initramfs-${kernel}.img"`,
    'default_options="-S autodetect"',
    ''
  ].join('\n')
}

export const initramfsStage: Stage = {
  name: 'initramfs',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    await writeImageFile(
      ctx,
      presetPath(ctx.config.configure.kernel),
      mkinitcpioPreset(ctx.config.configure.kernel)
    )
    // mkinitcpio dates the cpio's entries by SOURCE_DATE_EPOCH.
    await inChroot(ctx, ['mkinitcpio', '-P'], { env: sourceDateEpochEnv(ctx) })
    // The image pacstrap's mkinitcpio hook made with the package's own preset; ours has no fallback.
    const fallback = insideRoot(rootOf(ctx), `boot/initramfs-${ctx.config.configure.kernel}-fallback.img`)
    await ctx.exec.run(['rm', '-f', '--', fallback], { privileged: true })
  }
}
