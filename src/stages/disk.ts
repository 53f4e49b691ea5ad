// disk: a sparse raw file on a loop device with GPT (BIOS boot, ESP, root), formatted and mounted.
import { mkdirSync, openSync, closeSync, ftruncateSync } from 'node:fs'
import path from 'node:path'
import type { Context } from '../pipeline/context.js'
import { acquireOutputLock, uniqueSuffix } from '../pipeline/output-lock.js'
import type { Stage } from '../pipeline/runner.js'
import { partitionNode, waitForPartitions } from '../image/partitions.js'
import { imageIds, type ImageIds } from '../image/reproducible.js'

export const PARTITION_TYPES = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  root: '4F68BCE3-E8CD-4D65-96E7-FBCAF984B709'
}

export const ESP_MIB = 300

/** sfdisk's script; with `ids`, the disk and partition GUIDs are those instead of random ones. */
export function partitionScript(ids?: ImageIds): string {
  const uuid = (n: 0 | 1 | 2): string => (ids ? `, uuid=${ids.partitionGuids[n]}` : '')
  return [
    'label: gpt',
    ...(ids ? [`label-id: ${ids.diskGuid}`] : []),
    `size=1MiB, type=${PARTITION_TYPES.biosBoot}, name="BIOS boot"${uuid(0)}`,
    `size=${ESP_MIB}MiB, type=${PARTITION_TYPES.esp}, name="EFI system"${uuid(1)}`,
    `type=${PARTITION_TYPES.root}, name="root"${uuid(2)}`,
    ''
  ].join('\n')
}

/** mkfs of the root filesystem, with the image's fixed UUID (and ext4's hash seed). */
export function rootMkfsArgs(filesystem: 'ext4' | 'btrfs', ids: ImageIds, device: string): string[] {
  if (filesystem === 'btrfs')
    return ['mkfs.btrfs', '--quiet', '--force', '--label', ROOT_LABEL, '--uuid', ids.rootUuid, device]
  return ['mkfs.ext4', ...ext4Options(ids), device]
}

export const ROOT_LABEL = 'arch-root'

/** mkfs.ext4's options for the root: the same at the first mkfs and when refilling it (stages/refill.ts). */
export function ext4Options(ids: ImageIds): string[] {
  return ['-q', '-F', '-L', ROOT_LABEL, '-U', ids.rootUuid, '-E', `hash_seed=${ids.hashSeed}`]
}

/** mkfs.vfat of the ESP: `--invariant` fixes its times and random values, `-i` the volume id. */
export function espMkfsArgs(ids: ImageIds, device: string): string[] {
  return ['mkfs.vfat', '-F', '32', '-n', 'ESP', '--invariant', '-i', ids.espVolumeId, device]
}

async function uuidOf(ctx: Context, node: string): Promise<string> {
  const result = await ctx.exec.run(['blkid', '-p', '-s', 'UUID', '-o', 'value', node], {
    privileged: true,
    quiet: true
  })
  const uuid = result.stdout.trim()
  if (!uuid) throw new Error(`blkid found no filesystem UUID on ${node}`)
  return uuid
}

export const diskStage: Stage = {
  name: 'disk',
  async run(ctx) {
    const { config, exec, teardown } = ctx
    mkdirSync(config.image.outputDir, { recursive: true })
    // Before anything is written next to the outputs: a second run for the same image stops here.
    acquireOutputLock(ctx)
    // A name no other run uses, created exclusively: never truncate a file another run has on a loop device.
    const rawPath = path.join(config.image.outputDir, `.${ctx.imageName}.${uniqueSuffix()}.raw.partial`)

    ctx.held.rawFile = teardown.push({ kind: 'path', path: rawPath })
    const fd = openSync(rawPath, 'wx')
    try {
      ftruncateSync(fd, config.disk.sizeBytes)
    } finally {
      closeSync(fd)
    }

    // Joins the stack before losetup runs: a kill between attach and our reading its name must not leak it.
    const loopId = teardown.push({ kind: 'loop', backingFile: rawPath })
    ctx.held.loop = loopId
    const attached = await exec.run(['losetup', '--find', '--show', '--partscan', rawPath], {
      privileged: true
    })
    const device = attached.stdout.trim()
    if (!/^\/dev\/loop\d+$/.test(device))
      throw new Error(`losetup printed no loop device (got ${JSON.stringify(device)})`)
    teardown.update(loopId, { kind: 'loop', backingFile: rawPath, device })

    const ids = imageIds(ctx.imageName, ctx.snapshotDate, config.image.sourceDateEpoch)
    await exec.run(['sfdisk', '--quiet', '--wipe', 'always', device], {
      privileged: true,
      input: partitionScript(ids)
    })
    await waitForPartitions(ctx, device, 3)
    const [biosBoot, esp, root] = [1, 2, 3].map(n => partitionNode(device, n)) as [string, string, string]

    await exec.run(espMkfsArgs(ids, esp), { privileged: true })
    await exec.run(rootMkfsArgs(config.disk.filesystem, ids, root), { privileged: true })
    ctx.disk = {
      ids,
      rawPath,
      device,
      biosBoot,
      esp,
      root,
      rootUuid: await uuidOf(ctx, root),
      espUuid: await uuidOf(ctx, esp)
    }

    const rootDir = path.join(ctx.workDir, 'root')
    mkdirSync(rootDir)
    ctx.held.rootMount = teardown.push({ kind: 'mount', target: rootDir })
    const options = config.disk.filesystem === 'btrfs' ? ['-o', 'compress=zstd:1'] : []
    await exec.run(['mount', ...options, root, rootDir], { privileged: true })
    ctx.rootDir = rootDir
    ctx.log.info(`root ${config.disk.filesystem} UUID=${ctx.disk.rootUuid} mounted at ${rootDir}`)
  }
}
