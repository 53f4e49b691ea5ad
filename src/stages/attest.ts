// attest: sign SLSA provenance for the image (and the SPDX SBOM, when one was written), store each on
// GitHub and keep each Sigstore bundle next to the image. Runs after the boot test (only an image that
// passed is vouched for) and before publish and release, which point to it. Any failure fails the run.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  attestationUrl,
  signProvenance,
  signSpdx,
  storeAttestation,
  type SignedAttestation
} from '../github/attestation.js'
import { repositoryClient, workflowRepository, type RepositoryClient } from '../github/octokit.js'
import type { Context, StoredAttestation } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'

/** The provenance bundle's file: `<image>.sigstore.json`; the SBOM's: `<image>.sbom.sigstore.json`. */
export function bundlePaths(imagePath: string): { provenance: string; sbom: string } {
  return { provenance: `${imagePath}.sigstore.json`, sbom: `${imagePath}.sbom.sigstore.json` }
}

/** The SPDX document as written, refused when the file is not what the sbom stage recorded. */
function readSpdx(file: string, sha256: string): object {
  const bytes = readFileSync(file)
  const actual = createHash('sha256').update(bytes).digest('hex')
  if (actual !== sha256) {
    throw new Error(`attest: ${file} changed since it was written (sha256 ${actual}, not ${sha256})`)
  }
  return JSON.parse(bytes.toString('utf8')) as object
}

async function keep(
  ctx: Context,
  client: RepositoryClient,
  repository: string,
  signed: SignedAttestation,
  bundlePath: string
): Promise<StoredAttestation> {
  writeFileSync(bundlePath, `${JSON.stringify(signed.bundle)}\n`)
  if (ctx.owner) {
    await ctx.exec.run(['chown', `${ctx.owner.uid}:${ctx.owner.gid}`, '--', bundlePath], { privileged: true })
  }
  const id = await storeAttestation(client, signed)
  const url = attestationUrl(repository, id)
  ctx.log.info(`attestation ${id} (${signed.predicateType}): ${url}; bundle ${bundlePath}`)
  return { id, url, bundlePath }
}

export const attestStage: Stage = {
  name: 'attest',
  enabled: ctx => ctx.config.attest.enabled,
  async run(ctx) {
    const image = ctx.image
    if (!image) throw new Error('BUG: attest without an image')
    const repository = workflowRepository('attest')
    const client = repositoryClient(ctx.config.attest.token, repository)
    const subjects = [{ name: path.basename(image.path), digest: { sha256: image.sha256 } }]
    const paths = bundlePaths(image.path)
    const token = ctx.config.attest.token

    // Read first: a changed SBOM fails the stage before anything is signed or stored.
    const document = ctx.sbom ? readSpdx(ctx.sbom.spdxPath, ctx.sbom.spdxSha256) : undefined
    const provenance = await keep(
      ctx,
      client,
      repository,
      await signProvenance(subjects, token),
      paths.provenance
    )
    const sbom = document
      ? await keep(ctx, client, repository, await signSpdx(subjects, document, token), paths.sbom)
      : undefined
    ctx.attestation = { subjectDigest: `sha256:${image.sha256}`, provenance, ...(sbom ? { sbom } : {}) }
  }
}
