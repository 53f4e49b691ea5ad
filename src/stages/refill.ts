// refill: the ext4 root written again from its own tree with `mkfs.ext4 -d`, so that its bytes are a
// function of the files and not of the kernel that wrote them (inode generations, ctime, crtime,
// block allocation by writeback timing, the journal all differ between two kernel-written copies).
import { closeSync, ftruncateSync, openSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { insideRoot } from '../image/rootfs.js'
import { debugfsDatingScript, usedInodes } from '../image/reproducible.js'
import { ext4Options } from './disk.js'

/** sed's script setting the line after `%INSTALLDATE%` to `epoch` (pacman < 7.1 writes the install's time). */
export function installDateSedScript(epoch: number): string {
  return `/^%INSTALLDATE%$/{n;s/^[0-9]*$/${epoch}/}`
}

/** The image's pacman database entries (`desc` files), each checked to stay inside the image. */
function descFiles(rootDir: string): string[] {
  const local = insideRoot(rootDir, 'var/lib/pacman/local')
  return readdirSync(local, { withFileTypes: true })
    .filter(entry => entry.isDirectory())
    .map(entry => insideRoot(rootDir, path.join('var/lib/pacman/local', entry.name, 'desc')))
}

/** `%INSTALLDATE%` of every package, then every time newer than the epoch, set to the epoch. */
async function dateTree(ctx: Context, rootDir: string, epoch: number): Promise<void> {
  const descs = descFiles(rootDir)
  if (descs.length > 0)
    await ctx.exec.run(['sed', '-i', installDateSedScript(epoch), '--', ...descs], {
      privileged: true,
      quiet: true
    })
  await ctx.exec.run(
    [
      'find',
      rootDir,
      '-xdev',
      '-newermt',
      `@${epoch}`,
      '-exec',
      'touch',
      '--no-dereference',
      `--date=@${epoch}`,
      '--',
      '{}',
      '+'
    ],
    { privileged: true, quiet: true }
  )
}

export const refillStage: Stage = {
  name: 'refill',
  enabled: ctx => ctx.config.disk.filesystem === 'ext4',
  async run(ctx) {
    const { exec, disk, rootDir } = ctx
    if (!disk || !rootDir) throw new Error('BUG: root not mounted')
    const epoch = ctx.sourceDateEpoch
    if (epoch === undefined) throw new Error('BUG: SOURCE_DATE_EPOCH was not decided')
    const timeEnv = { SOURCE_DATE_EPOCH: String(epoch), E2FSPROGS_FAKE_TIME: String(epoch) }

    await dateTree(ctx, rootDir, epoch)
    await exec.run(['sync', '-f', rootDir], { privileged: true })
    // Read-only from here: nothing can change the tree while mkfs reads it.
    await exec.run(['mount', '-o', 'remount,ro', rootDir], { privileged: true })

    const size = Number(
      (
        await exec.run(['blockdev', '--getsize64', disk.root], { privileged: true, quiet: true })
      ).stdout.trim()
    )
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`blockdev printed no size for ${disk.root}`)
    const fsFile = path.join(ctx.workDir, 'root.ext4')
    const fd = openSync(fsFile, 'wx')
    try {
      ftruncateSync(fd, size)
    } finally {
      closeSync(fd)
    }
    await exec.run(['mkfs.ext4', ...ext4Options(disk.ids), '-d', rootDir, fsFile], {
      privileged: true,
      env: timeEnv
    })
    // mkfs -d copies each file's atime and ctime from the tree; ctime cannot be set there, so here.
    const dump = await exec.run(['dumpe2fs', fsFile], { privileged: true, quiet: true })
    const script = path.join(ctx.workDir, 'date-inodes.debugfs')
    const inodes = usedInodes(dump.stdout)
    writeFileSync(script, debugfsDatingScript(inodes, epoch))
    await exec.run(['debugfs', '-w', '-f', script, fsFile], { privileged: true, quiet: true, env: timeEnv })
    ctx.log.info(`${inodes.length} inodes dated ${new Date(epoch * 1000).toISOString()}`)

    ctx.refilledRoot = fsFile
  }
}

/**
 * Once the root is unmounted (the detach stage): the refilled filesystem onto the root partition,
 * zeroed first so that the old filesystem's blocks the new one leaves free read as zeros.
 */
export async function writeRefilledRoot(ctx: Context): Promise<void> {
  const { exec, disk, refilledRoot } = ctx
  if (!refilledRoot) return
  if (!disk) throw new Error('BUG: no disk')
  await exec.run(['blkdiscard', '--zeroout', disk.root], { privileged: true })
  await exec.run(
    ['dd', `if=${refilledRoot}`, `of=${disk.root}`, 'bs=4M', 'conv=sparse,fsync', 'status=none'],
    {
      privileged: true
    }
  )
  await exec.run(['fsck.ext4', '-n', '-f', disk.root], { privileged: true, quiet: true })
  ctx.refilledRoot = undefined
}
