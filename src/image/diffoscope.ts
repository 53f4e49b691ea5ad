// What differs between the built image and a reference one, when their digests differ: both root
// filesystems attached read-only and compared by diffoscope (Debian: diffoscope-minimal), its report
// written next to the image. Every loop device, mount and scratch file joins the teardown stack the
// moment it exists and is released before this returns.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Context, DiffoscopeReport } from '../pipeline/context.js'
import { partitionNode, waitForPartitions } from './partitions.js'

/** GPT type of an x86-64 root partition (the one the disk stage writes). */
const ROOT_TYPE = '4F68BCE3-E8CD-4D65-96E7-FBCAF984B709'
/** diffoscope stops recursing after this; `timeout` kills it a little later if it has not finished. */
const SOFT_LIMIT_S = 480
const HARD_LIMIT_S = 600
export const SUMMARY_LINES = 40

export type { DiffoscopeReport }

async function installed(ctx: Context): Promise<boolean> {
  try {
    const result = await ctx.exec.run(['diffoscope', '--version'], {
      privileged: true,
      allowFailure: true,
      quiet: true
    })
    return result.code === 0
  } catch {
    return false
  }
}

/** The disk as a raw file: a qcow2 converted into `scratch`, a raw one as it is (it is attached read-only). */
async function rawDisk(
  ctx: Context,
  held: number[],
  image: string,
  scratch: string,
  label: string
): Promise<string> {
  const info = await ctx.exec.run(['qemu-img', 'info', '--output=json', '--', image], { quiet: true })
  const format = (JSON.parse(info.stdout) as { format?: string }).format
  if (format === 'raw') return image
  if (format !== 'qcow2') throw new Error(`${image} is neither qcow2 nor raw (qemu-img says ${format})`)
  const raw = path.join(scratch, `${label}.raw`)
  held.push(ctx.teardown.push({ kind: 'path', path: raw }))
  await ctx.exec.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', '--', image, raw])
  return raw
}

/** The number of the root partition: the x86-64 root type, else the last partition. */
async function rootPartition(ctx: Context, raw: string): Promise<number> {
  const listed = await ctx.exec.run(['sfdisk', '--json', '--', raw], { quiet: true })
  const table = JSON.parse(listed.stdout) as {
    partitiontable: { partitions?: { node: string; type: string }[] }
  }
  const partitions = table.partitiontable.partitions ?? []
  const root = partitions.find(p => p.type.toUpperCase() === ROOT_TYPE) ?? partitions[partitions.length - 1]
  const number = Number(/(\d+)$/.exec(root?.node ?? '')?.[1])
  if (!number) throw new Error(`${raw} has no partition to compare`)
  return number
}

/** Attaches `raw` read-only and mounts its root partition read-only (no journal replay) at `target`. */
async function mountRoot(ctx: Context, held: number[], raw: string, target: string): Promise<void> {
  const { exec, teardown } = ctx
  const number = await rootPartition(ctx, raw)
  const loopId = teardown.push({ kind: 'loop', backingFile: raw })
  held.push(loopId)
  const attached = await exec.run(['losetup', '--find', '--show', '--read-only', '--partscan', '--', raw], {
    privileged: true
  })
  const device = attached.stdout.trim()
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed no loop device (got ${device})`)
  teardown.update(loopId, { kind: 'loop', backingFile: raw, device })
  await waitForPartitions(ctx, device, number)
  const node = partitionNode(device, number)
  const type = await exec.run(['blkid', '-p', '-s', 'TYPE', '-o', 'value', '--', node], {
    privileged: true,
    quiet: true,
    allowFailure: true
  })
  mkdirSync(target)
  held.push(teardown.push({ kind: 'mount', target }))
  const options = type.stdout.trim() === 'ext4' ? 'ro,noload' : 'ro'
  await exec.run(['mount', '-o', options, '--', node, target], { privileged: true })
}

/**
 * Compares the root filesystems of `built` and `reference` (qcow2 or raw) with diffoscope; the report
 * goes to `<built>.diffoscope.txt` and `.html`. Never throws: what went wrong is in the result.
 */
export async function diffImages(ctx: Context, built: string, reference: string): Promise<DiffoscopeReport> {
  if (!(await installed(ctx))) return { missing: true }
  const { exec, teardown } = ctx
  const held: number[] = []
  const textPath = `${built}.diffoscope.txt`
  const htmlPath = `${built}.diffoscope.html`
  try {
    const scratch = mkdtempSync(path.join(ctx.workDir, 'diffoscope-'))
    held.push(teardown.push({ kind: 'path', path: scratch }))
    const trees = { built: path.join(scratch, 'built'), reference: path.join(scratch, 'reference') }
    await mountRoot(ctx, held, await rawDisk(ctx, held, built, scratch, 'built'), trees.built)
    await mountRoot(ctx, held, await rawDisk(ctx, held, reference, scratch, 'reference'), trees.reference)
    // As root: the trees hold files only root may read (/etc/shadow). Exit 1 means "differences".
    const result = await exec.run(
      [
        'timeout',
        '--kill-after=30',
        String(HARD_LIMIT_S),
        'diffoscope',
        '--timeout',
        String(SOFT_LIMIT_S),
        '--exclude-directory-metadata=no',
        '--text',
        textPath,
        '--html',
        htmlPath,
        trees.reference,
        trees.built
      ],
      { privileged: true, allowFailure: true, quiet: true }
    )
    if (ctx.owner)
      await exec.run(['chown', `${ctx.owner.uid}:${ctx.owner.gid}`, '-f', '--', textPath, htmlPath], {
        privileged: true,
        allowFailure: true
      })
    if (result.code === 0) return { same: true, textPath, htmlPath }
    if (result.code !== 1) {
      const why =
        result.code === 124 ? `took longer than ${HARD_LIMIT_S} s` : `exited with code ${result.code}`
      return { failed: `diffoscope ${why}: ${result.stderr.trim().split('\n').slice(-3).join(' ')}` }
    }
    const head = readFileSync(textPath, 'utf8').split('\n').slice(0, SUMMARY_LINES).join('\n')
    return { textPath, htmlPath, head }
  } catch (error) {
    return { failed: (error as Error).message }
  } finally {
    // Newest first: the mounts, then the loop devices, then the scratch files. What cannot be released
    // now stays on the stack for the run's teardown.
    for (const id of held.reverse()) {
      try {
        await teardown.release(id)
      } catch (error) {
        ctx.log.warning(`diffoscope: ${(error as Error).message}; left to the run's teardown`)
      }
    }
  }
}
