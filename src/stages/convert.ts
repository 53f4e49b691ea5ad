// detach: unmount, put a refilled root on its partition (stages/refill.ts), free the loop device.
// convert: the raw disk becomes the published image, checked, hashed in one read, with SHA256SUMS beside it.
import { closeSync, openSync, renameSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { hashFile } from '../util/hash.js'
import type { Log } from '../pipeline/log.js'
import { uniqueSuffix } from '../pipeline/output-lock.js'
import { progressThrottle } from '../pipeline/progress.js'
import type { Stage } from '../pipeline/runner.js'
import { writeRefilledRoot } from './refill.js'

export const detachStage: Stage = {
  name: 'detach',
  async run(ctx) {
    for (const key of ['gpgAgent', 'rootMount', 'loop'] as const) {
      if (key === 'loop') await writeRefilledRoot(ctx)
      const id = ctx.held[key]
      if (id !== undefined) await ctx.teardown.release(id)
      ctx.held[key] = undefined
      if (key === 'rootMount') ctx.rootDir = undefined
    }
  }
}

export function convertArgs(compression: string, raw: string, out: string): string[] {
  const args = ['qemu-img', 'convert', '-p', '-f', 'raw', '-O', 'qcow2']
  if (compression !== 'none') args.push('-c', '-o', `compression_type=${compression}`)
  return [...args, raw, out]
}

/** The percent in a line of qemu-img's `-p` meter, `    (12.34/100%)`; undefined for any other line. */
export function qemuImgPercent(line: string): number | undefined {
  const match = /^\s*\((\d+(?:\.\d+)?)\/100%\)\s*$/.exec(line)
  return match ? Number(match[1]) : undefined
}

/** qemu-img's output for the log: its meter as a line per 10 % (or per 30 s), anything else as it is. */
function convertOutput(log: Log): (line: string) => void {
  const due = progressThrottle({ stepPercent: 10, intervalMs: 30_000 })
  return line => {
    const percent = qemuImgPercent(line)
    if (percent === undefined) log.info(`  ${line}`)
    else if (due(percent)) log.info(`qemu-img convert: ${Math.floor(percent)}%`)
  }
}

export function sha256sums(entries: { sha256: string; file: string }[]): string {
  return entries.map(entry => `${entry.sha256}  ${entry.file}\n`).join('')
}

export const convertStage: Stage = {
  name: 'convert',
  async run(ctx) {
    const { config, exec, teardown, disk } = ctx
    if (!disk) throw new Error('BUG: no disk')
    const imagePath = path.join(config.image.outputDir, `${ctx.imageName}.${config.image.format}`)

    if (config.image.format === 'raw') {
      ctx.outputs.push(teardown.push({ kind: 'path', path: imagePath }))
      renameSync(disk.rawPath, imagePath)
    } else {
      const partial = path.join(config.image.outputDir, `.${ctx.imageName}.${uniqueSuffix()}.qcow2.partial`)
      const partialId = teardown.push({ kind: 'path', path: partial })
      closeSync(openSync(partial, 'wx'))
      await exec.run(convertArgs(config.image.compression, disk.rawPath, partial), {
        onLine: convertOutput(ctx.log)
      })
      await exec.run(['qemu-img', 'check', '-f', 'qcow2', partial])
      ctx.outputs.push(teardown.push({ kind: 'path', path: imagePath }))
      renameSync(partial, imagePath)
      teardown.forget(partialId)
    }
    if (ctx.held.rawFile !== undefined) await teardown.release(ctx.held.rawFile)
    ctx.held.rawFile = undefined

    const info = await exec.run(['qemu-img', 'info', '--output=json', '-f', config.image.format, imagePath], {
      quiet: true
    })
    const virtualSize = Number((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'])
    const hashes = await hashFile(imagePath)
    const manifestPath = path.join(config.image.outputDir, `${ctx.imageName}.manifest`)
    const sums = [{ sha256: hashes.sha256, file: path.basename(imagePath) }]
    sums.push({ sha256: (await hashFile(manifestPath)).sha256, file: path.basename(manifestPath) })
    const sha256sumsPath = path.join(config.image.outputDir, 'SHA256SUMS')
    ctx.outputs.push(teardown.push({ kind: 'path', path: sha256sumsPath }))
    writeFileSync(sha256sumsPath, sha256sums(sums))

    ctx.image = {
      path: imagePath,
      format: config.image.format,
      size: statSync(imagePath).size,
      virtualSize,
      sha256: hashes.sha256,
      sha512: hashes.sha512,
      sha256sumsPath,
      manifestPath
    }
    ctx.log.info(`${imagePath}: ${ctx.image.size} bytes (virtual ${virtualSize}), sha256 ${hashes.sha256}`)
  }
}
