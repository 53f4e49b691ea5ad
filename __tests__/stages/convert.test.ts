// The convert stage through a recording exec (qemu-img's output written by the fake): the image is
// renamed into place only after qemu-img check, SHA256SUMS names the image and the manifest, the raw
// disk is released, and what the user keeps is on the outputs list.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { convertArgs, convertStage, qemuImgPercent, sha256sums } from '../../src/stages/convert.js'
import { imageIds } from '../../src/image/reproducible.js'
import { testContext } from '../../test/support/context.js'

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

function converting(inputs: Record<string, string> = {}) {
  const test = testContext(inputs)
  const { ctx, exec } = test
  const outputDir = ctx.config.image.outputDir
  mkdirSync(outputDir, { recursive: true })
  const rawPath = path.join(outputDir, '.test-image.x.raw.partial')
  writeFileSync(rawPath, Buffer.alloc(4096, 1))
  writeFileSync(path.join(outputDir, 'test-image.manifest'), 'base 1-1\n')
  ctx.disk = {
    ids: imageIds('x', undefined),
    rawPath,
    device: '/dev/loop9',
    biosBoot: '',
    esp: '',
    root: '',
    rootUuid: '',
    espUuid: ''
  }
  ctx.held.rawFile = ctx.teardown.push({ kind: 'path', path: rawPath })
  exec.on(['qemu-img', 'convert'], argv => {
    writeFileSync(argv.at(-1) as string, 'QFI qcow2 bytes')
    return {}
  })
  exec.on(['qemu-img', 'info'], { stdout: JSON.stringify({ 'virtual-size': 2147483648 }) })
  return { ...test, outputDir, rawPath }
}

describe('convert stage', () => {
  it('converts with the compression asked for, checks, then renames the qcow2 into place', async () => {
    const { ctx, exec, teardownExec, outputDir, rawPath } = converting({ compression: 'zstd' })
    await convertStage.run(ctx)
    const [convert, check] = exec.commands
    const partial = convert?.argv.at(-1) as string
    expect(convert?.argv).toEqual([
      'qemu-img',
      'convert',
      '-p',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-c',
      '-o',
      'compression_type=zstd',
      rawPath,
      partial
    ])
    expect(check?.argv).toEqual(['qemu-img', 'check', '-f', 'qcow2', partial])
    const image = path.join(outputDir, 'test-image.qcow2')
    expect(readFileSync(image, 'latin1')).toBe('QFI qcow2 bytes')
    expect(existsSync(partial)).toBe(false)
    expect(teardownExec.lines).toContain(`rm -rf --one-file-system -- ${rawPath}`)
    expect(readFileSync(path.join(outputDir, 'SHA256SUMS'), 'utf8')).toBe(
      `${sha256(readFileSync(image))}  test-image.qcow2\n${sha256('base 1-1\n')}  test-image.manifest\n`
    )
    expect(ctx.image).toMatchObject({
      path: image,
      format: 'qcow2',
      size: readFileSync(image).length,
      virtualSize: 2147483648,
      sha256: sha256(readFileSync(image)),
      sha256sumsPath: path.join(outputDir, 'SHA256SUMS')
    })
    // image and SHA256SUMS are handed to the user; nothing partial is left on the stack
    expect(ctx.outputs).toHaveLength(2)
    expect(ctx.teardown.resources.map(resource => (resource as { path: string }).path).sort()).toEqual(
      [image, path.join(outputDir, 'SHA256SUMS')].sort()
    )
  })

  it('a qcow2 that fails qemu-img check never takes the image name; the partial stays for teardown', async () => {
    const { ctx, exec, outputDir } = converting()
    exec.on(['qemu-img', 'check'], { code: 2, stderr: 'ERROR cluster 5 refcount=0 reference=1' })
    await expect(convertStage.run(ctx)).rejects.toThrow('qemu-img exited with code 2:\nERROR cluster 5')
    expect(existsSync(path.join(outputDir, 'test-image.qcow2'))).toBe(false)
    const partials = ctx.teardown.resources.filter(
      resource => resource.kind === 'path' && resource.path.endsWith('.qcow2.partial')
    )
    expect(partials).toHaveLength(1)
    expect(ctx.outputs).toEqual([])
  })

  it('format raw: the disk file itself is renamed to the image, no qemu-img convert', async () => {
    const { ctx, exec, outputDir, rawPath } = converting({ format: 'raw' })
    await convertStage.run(ctx)
    expect(exec.lines.some(line => line.startsWith('qemu-img convert'))).toBe(false)
    expect(existsSync(rawPath)).toBe(false)
    expect(
      readdirSync(outputDir)
        .filter(name => !name.startsWith('.'))
        .sort()
    ).toEqual(['SHA256SUMS', 'test-image.manifest', 'test-image.raw'])
    expect(ctx.image?.format).toBe('raw')
    expect(exec.lines).toContain(
      `qemu-img info --output=json -f raw ${path.join(outputDir, 'test-image.raw')}`
    )
  })
})

describe('convert', () => {
  it('compresses qcow2 with the chosen algorithm or not at all', () => {
    expect(convertArgs('zlib', 'a.raw', 'b')).toEqual([
      'qemu-img',
      'convert',
      '-p',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-c',
      '-o',
      'compression_type=zlib',
      'a.raw',
      'b'
    ])
    expect(convertArgs('zstd', 'a', 'b')).toContain('compression_type=zstd')
    expect(convertArgs('none', 'a', 'b')).not.toContain('-c')
  })

  it("reads qemu-img's progress meter and nothing else as progress", () => {
    expect(qemuImgPercent('    (0.00/100%)')).toBe(0)
    expect(qemuImgPercent('    (47.25/100%)')).toBe(47.25)
    expect(qemuImgPercent('    (100.00/100%)')).toBe(100)
    expect(qemuImgPercent('qemu-img: warning: (50/100%) of something')).toBeUndefined()
    expect(qemuImgPercent('(12.5/200%)')).toBeUndefined()
  })

  it('writes SHA256SUMS in the format sha256sum -c reads', () => {
    expect(
      sha256sums([
        { sha256: 'ab', file: 'x.qcow2' },
        { sha256: 'cd', file: 'x.manifest' }
      ])
    ).toBe('ab  x.qcow2\ncd  x.manifest\n')
  })
})
