// The sbom stage reads the image root's pacman database into the context; sbom-write puts both
// documents next to the image, adds them to SHA256SUMS and leaves their paths and digests in ctx.sbom.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { sbomStage, sbomWriteStage } from '../../src/stages/sbom.js'
import type { Inputs } from '../../test/support/config.js'
import { testContext } from '../../test/support/context.js'
import { SAMPLE_PACKAGES, writePacmanDb } from '../../test/support/pacman-db.js'
import { cyclonedxErrors, spdxSchemaErrors } from '../../test/support/sbom-validators.js'

function imageContext(inputs: Inputs = {}) {
  const test = testContext({ 'image-name': 'img', ...inputs })
  const { ctx, dir } = test
  const rootDir = path.join(dir, 'root')
  writePacmanDb(rootDir, SAMPLE_PACKAGES)
  const out = ctx.config.image.outputDir
  mkdirSync(out)
  const imagePath = path.join(out, 'img.qcow2')
  writeFileSync(imagePath, 'image bytes')
  const sha256sumsPath = path.join(out, 'SHA256SUMS')
  writeFileSync(sha256sumsPath, `${'1'.repeat(64)}  img.qcow2\n`)
  ctx.rootDir = rootDir
  ctx.servers = ['file:///srv/repo/$repo/os/$arch']
  ctx.image = {
    path: imagePath,
    format: 'qcow2',
    size: 11,
    virtualSize: 1024,
    sha256: '1'.repeat(64),
    sha512: '2'.repeat(128),
    sha256sumsPath,
    manifestPath: path.join(out, 'img.manifest')
  }
  return { ...test, out }
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe('sbom and sbom-write', () => {
  it('write both documents next to the image, list them in SHA256SUMS and set ctx.sbom', async () => {
    const { ctx, out } = imageContext()
    expect(sbomStage.enabled?.(ctx)).toBe(true)
    await sbomStage.run(ctx)
    expect(ctx.sbomPackages).toHaveLength(SAMPLE_PACKAGES.length)
    await sbomWriteStage.run(ctx)

    const spdxPath = path.join(out, 'img.spdx.json')
    const cyclonedxPath = path.join(out, 'img.cdx.json')
    expect(ctx.sbom).toEqual({
      spdxPath,
      cyclonedxPath,
      spdxSha256: sha256(spdxPath),
      cyclonedxSha256: sha256(cyclonedxPath)
    })
    expect(readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toBe(
      `${'1'.repeat(64)}  img.qcow2\n${sha256(spdxPath)}  img.spdx.json\n${sha256(cyclonedxPath)}  img.cdx.json\n`
    )
    expect(spdxSchemaErrors(readFileSync(spdxPath, 'utf8'))).toEqual([])
    expect(await cyclonedxErrors(readFileSync(cyclonedxPath, 'utf8'))).toBeNull()
    // Outputs until the run succeeds: a failed run removes them with the image.
    expect(ctx.outputs).toHaveLength(2)
  })

  it('are skipped with sbom: false', () => {
    const { ctx } = imageContext({ sbom: 'false' })
    expect(sbomStage.enabled?.(ctx)).toBe(false)
    expect(sbomWriteStage.enabled?.(ctx)).toBe(false)
  })

  it('two runs over the same database and image write the same bytes', async () => {
    const first = imageContext()
    const second = imageContext()
    for (const { ctx } of [first, second]) {
      await sbomStage.run(ctx)
      await sbomWriteStage.run(ctx)
    }
    for (const name of ['img.spdx.json', 'img.cdx.json']) {
      expect(readFileSync(path.join(second.out, name), 'utf8')).toBe(
        readFileSync(path.join(first.out, name), 'utf8')
      )
    }
    expect(readdirSync(first.out).sort()).toEqual([
      'SHA256SUMS',
      'img.cdx.json',
      'img.qcow2',
      'img.spdx.json'
    ])
  })
})
