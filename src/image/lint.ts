// The configuration lint, run last (after every hook script): what a cloud image must have to boot
// and be reachable. Each finding is a line of the build's error.
import type { Context } from '../pipeline/context.js'
import { inChroot, rootOf } from './chroot.js'
import { insideRoot } from './rootfs.js'
import { CLOUD_INIT_UNITS, presetPath } from './layout.js'

async function readImageFile(ctx: Context, relative: string): Promise<string | undefined> {
  const result = await ctx.exec.run(['cat', insideRoot(rootOf(ctx), relative)], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  return result.code === 0 ? result.stdout : undefined
}

/** Problems with /etc/fstab: every line has six fields, and UUIDs name the image's own filesystems. */
export function fstabProblems(fstab: string, rootUuid: string, espUuid: string): string[] {
  const problems: string[] = []
  let root = false
  for (const line of fstab.split('\n')) {
    const text = line.trim()
    if (!text || text.startsWith('#')) continue
    const fields = text.split(/\s+/)
    if (fields.length !== 6) problems.push(`fstab: "${text}" does not have six fields`)
    const [source, target] = fields
    const uuid = /^UUID=(.+)$/.exec(source ?? '')?.[1]
    if (uuid && uuid !== rootUuid && uuid !== espUuid)
      problems.push(`fstab: ${source} is not a filesystem of this image`)
    if (target === '/') {
      root = true
      if (uuid !== rootUuid)
        problems.push(`fstab: / is not mounted by the root filesystem's UUID (${source})`)
    }
  }
  if (!root) problems.push('fstab: no entry for /')
  return problems
}

export async function configLint(ctx: Context): Promise<string[]> {
  const { config } = ctx
  const disk = ctx.disk
  if (!disk) throw new Error('BUG: no disk')
  const problems: string[] = []

  const units = ['sshd', ...CLOUD_INIT_UNITS]
  const enabled = await inChroot(ctx, ['systemctl', 'is-enabled', ...units], {
    allowFailure: true,
    quiet: true
  })
  const states = enabled.stdout.trim().split('\n')
  units.forEach((unit, i) => {
    if (states[i] !== 'enabled') problems.push(`services: ${unit} is ${states[i] || 'missing'}, not enabled`)
  })

  const preset = await readImageFile(ctx, presetPath(config.configure.kernel))
  if (!preset) problems.push(`initramfs: /${presetPath(config.configure.kernel)} is missing`)
  else if (!/^default_options=.*-S autodetect/m.test(preset))
    problems.push('initramfs: the preset keeps the autodetect hook')
  const image = `boot/initramfs-${config.configure.kernel}.img`
  const size = await ctx.exec.run(['stat', '-c', '%s', insideRoot(rootOf(ctx), image)], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  if (size.code !== 0 || Number(size.stdout) === 0) problems.push(`initramfs: /${image} is missing or empty`)

  const fstab = await readImageFile(ctx, 'etc/fstab')
  if (fstab === undefined) problems.push('fstab: /etc/fstab is missing')
  else problems.push(...fstabProblems(fstab, disk.rootUuid, disk.espUuid))

  const grubCfg = await readImageFile(ctx, 'boot/grub/grub.cfg')
  if (!grubCfg) problems.push('grub: /boot/grub/grub.cfg is missing')
  else {
    const kernelLine = new RegExp(
      `^\\s*linux\\s+\\S*/vmlinuz-${config.configure.kernel}\\s+root=UUID=${disk.rootUuid}\\s`,
      'm'
    )
    if (!kernelLine.test(grubCfg))
      problems.push(
        `grub: grub.cfg has no entry booting /boot/vmlinuz-${config.configure.kernel} with root=UUID=${disk.rootUuid}`
      )
  }
  if (config.configure.bootMode !== 'uefi') {
    const core = await ctx.exec.run(['test', '-s', insideRoot(rootOf(ctx), 'boot/grub/i386-pc/core.img')], {
      privileged: true,
      allowFailure: true,
      quiet: true
    })
    if (core.code !== 0) problems.push('grub: BIOS boot requested but /boot/grub/i386-pc/core.img is missing')
    const mbr = await ctx.exec.run(['head', '-c', '512', disk.device], { privileged: true, quiet: true })
    if (!mbr.stdout.includes('GRUB'))
      problems.push(`grub: BIOS boot requested but ${disk.device} has no GRUB boot sector`)
  }
  if (config.configure.bootMode !== 'bios') {
    const listing = await ctx.exec.run(['mdir', '-b', '-i', disk.esp, '::/EFI/BOOT'], {
      privileged: true,
      allowFailure: true,
      quiet: true,
      env: { MTOOLS_SKIP_CHECK: '1' }
    })
    if (!/BOOTX64\.EFI/i.test(listing.stdout))
      problems.push('grub: UEFI boot requested but the ESP has no EFI/BOOT/BOOTX64.EFI')
  }
  return problems
}
