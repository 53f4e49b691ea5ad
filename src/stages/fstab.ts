// fstab: root and ESP by filesystem UUID (read with blkid; genfstab needs udev, which hosts may lack).
import type { Filesystem } from '../config/config.js'
import type { Stage } from '../pipeline/runner.js'
import { insideRoot, writeImageFile } from '../image/rootfs.js'

export function fstabText(filesystem: Filesystem, rootUuid: string, espUuid: string): string {
  const root =
    filesystem === 'btrfs'
      ? `UUID=${rootUuid}  /     btrfs  rw,relatime,compress=zstd:1  0 0`
      : `UUID=${rootUuid}  /     ext4   rw,relatime                  0 1`
  return [
    '# <file system>  <dir>  <type>  <options>  <dump>  <pass>',
    root,
    `UUID=${espUuid}  /efi  vfat   rw,relatime,umask=0077,nofail  0 2`,
    ''
  ].join('\n')
}

export const fstabStage: Stage = {
  name: 'fstab',
  async run(ctx) {
    const disk = ctx.disk
    if (!disk) throw new Error('BUG: no disk')
    await writeImageFile(ctx, 'etc/fstab', fstabText(ctx.config.disk.filesystem, disk.rootUuid, disk.espUuid))
    await ctx.exec.run(['install', '-d', '-m', '0755', insideRoot(ctx.rootDir as string, 'efi')], {
      privileged: true,
      quiet: true
    })
  }
}
