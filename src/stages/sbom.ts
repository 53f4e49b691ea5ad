// sbom: the image's pacman database read into the context before sealing (the last moment the tree is
// final and mounted). sbom-write: once convert knows the image's digest, the SPDX and CycloneDX
// documents next to the image, added to SHA256SUMS.
import { appendFileSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { cyclonedxDocument } from '../sbom/cyclonedx.js'
import { sbomCreated, sbomText, TOOL_VERSION, type SbomInput } from '../sbom/document.js'
import { readPackageRecords } from '../sbom/pacman-db.js'
import { spdxDocument } from '../sbom/spdx.js'
import { sha256sums } from './convert.js'

export const sbomStage: Stage = {
  name: 'sbom',
  enabled: ctx => ctx.config.image.sbom,
  async run(ctx) {
    if (!ctx.rootDir) throw new Error('BUG: root not mounted')
    ctx.sbomPackages = readPackageRecords(ctx.rootDir)
    ctx.log.info(`sbom: ${ctx.sbomPackages.length} packages read from the image's pacman database`)
  }
}

/** An output file, on the teardown stack until the run succeeds; returns its sha256. */
function writeOutput(ctx: Context, file: string, text: string): string {
  ctx.outputs.push(ctx.teardown.push({ kind: 'path', path: file }))
  writeFileSync(file, text)
  return createHash('sha256').update(text).digest('hex')
}

export const sbomWriteStage: Stage = {
  name: 'sbom-write',
  enabled: ctx => ctx.config.image.sbom,
  async run(ctx) {
    const { image, sbomPackages } = ctx
    if (!image || !sbomPackages) throw new Error('BUG: sbom-write without an image or its packages')
    const input: SbomInput = {
      subject: {
        imageName: ctx.imageName,
        fileName: path.basename(image.path),
        sha256: image.sha256,
        sha512: image.sha512
      },
      packages: sbomPackages,
      servers: ctx.servers,
      snapshot: ctx.snapshotDate,
      created: sbomCreated(sbomPackages, ctx.snapshotDate, ctx.sourceDateEpoch),
      toolVersion: TOOL_VERSION
    }
    const dir = ctx.config.image.outputDir
    const spdxPath = path.join(dir, `${ctx.imageName}.spdx.json`)
    const cyclonedxPath = path.join(dir, `${ctx.imageName}.cdx.json`)
    const spdxSha256 = writeOutput(ctx, spdxPath, sbomText(spdxDocument(input)))
    const cyclonedxSha256 = writeOutput(ctx, cyclonedxPath, sbomText(cyclonedxDocument(input)))
    appendFileSync(
      image.sha256sumsPath,
      sha256sums([
        { sha256: spdxSha256, file: path.basename(spdxPath) },
        { sha256: cyclonedxSha256, file: path.basename(cyclonedxPath) }
      ])
    )
    ctx.sbom = { spdxPath, cyclonedxPath, spdxSha256, cyclonedxSha256 }
    ctx.log.info(`sbom: ${spdxPath} (SPDX 2.3, sha256 ${spdxSha256}), ${cyclonedxPath} (CycloneDX 1.6)`)
  }
}
