// The attest stage with the signing and storing seam replaced: what it signs (the image by name and
// sha256; the SPDX document as written, refused when the file changed), what it keeps next to the image
// and what the context then tells publish and release.
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Subject } from '@actions/attest'
import type { SignedAttestation } from '../../src/github/attestation.js'
import { testContext } from '../../test/support/context.js'

const signed: { kind: string; subjects: Subject[]; document?: object }[] = []
let nextId = 40

jest.unstable_mockModule('../../src/github/attestation.js', () => ({
  signProvenance: async (subjects: Subject[]): Promise<SignedAttestation> => {
    signed.push({ kind: 'provenance', subjects })
    return { predicateType: 'https://slsa.dev/provenance/v1', bundle: { mediaType: 'provenance' } as never }
  },
  signSpdx: async (subjects: Subject[], document: object): Promise<SignedAttestation> => {
    signed.push({ kind: 'spdx', subjects, document })
    return { predicateType: 'https://spdx.dev/Document/v2.3', bundle: { mediaType: 'spdx' } as never }
  },
  storeAttestation: async (): Promise<number> => nextId++,
  attestationUrl: (repository: string, id: number) => `https://github.com/${repository}/attestations/${id}`
}))

const { attestStage } = await import('../../src/stages/attest.js')
const { attestationProperties } = await import('../../src/stages/glance.js')

const GRANTED = {
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.example/token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
  GITHUB_REPOSITORY: 'octo/images'
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function attesting() {
  process.env.GITHUB_REPOSITORY = 'octo/images'
  const test = testContext({ attest: 'true', 'github-token': 'ghs_x' }, {}, { environment: GRANTED })
  const imagePath = path.join(test.dir, 'arch-cloud-20261203.qcow2')
  writeFileSync(imagePath, 'image bytes')
  test.ctx.image = {
    path: imagePath,
    format: 'qcow2',
    size: 11,
    virtualSize: 1024,
    sha256: sha256('image bytes'),
    sha512: '',
    sha256sumsPath: '',
    manifestPath: ''
  }
  return { ...test, imagePath }
}

beforeEach(() => {
  signed.length = 0
})

describe('attest stage', () => {
  it('signs provenance for the image and keeps the bundle next to it', async () => {
    const { ctx, imagePath } = attesting()
    await attestStage.run(ctx)
    expect(signed).toEqual([
      {
        kind: 'provenance',
        subjects: [{ name: 'arch-cloud-20261203.qcow2', digest: { sha256: sha256('image bytes') } }]
      }
    ])
    const id = nextId - 1
    expect(ctx.attestation).toEqual({
      subjectDigest: `sha256:${sha256('image bytes')}`,
      provenance: {
        id,
        url: `https://github.com/octo/images/attestations/${id}`,
        bundlePath: `${imagePath}.sigstore.json`
      }
    })
    expect(JSON.parse(readFileSync(`${imagePath}.sigstore.json`, 'utf8'))).toEqual({
      mediaType: 'provenance'
    })
    expect(attestationProperties(ctx)).toEqual({
      arch_image_attestation_url: `https://github.com/octo/images/attestations/${id}`,
      arch_image_attestation_digest: `sha256:${sha256('image bytes')}`
    })
  })

  it('attests the SPDX SBOM as written, for the same subject', async () => {
    const { ctx, dir, imagePath } = attesting()
    const spdx = JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'arch-cloud-20261203' })
    const spdxPath = path.join(dir, 'arch-cloud-20261203.qcow2.spdx.json')
    writeFileSync(spdxPath, spdx)
    ctx.sbom = { spdxPath, cyclonedxPath: '', spdxSha256: sha256(spdx), cyclonedxSha256: '' }
    await attestStage.run(ctx)
    expect(signed.map(entry => entry.kind)).toEqual(['provenance', 'spdx'])
    expect(signed[1]?.subjects).toEqual(signed[0]?.subjects)
    expect(signed[1]?.document).toEqual(JSON.parse(spdx))
    expect(ctx.attestation?.sbom?.bundlePath).toBe(`${imagePath}.sbom.sigstore.json`)
    expect(JSON.parse(readFileSync(`${imagePath}.sbom.sigstore.json`, 'utf8'))).toEqual({ mediaType: 'spdx' })
  })

  it('refuses an SBOM file that changed since the sbom stage wrote it, before signing anything', async () => {
    const { ctx, dir } = attesting()
    const spdxPath = path.join(dir, 'changed.spdx.json')
    writeFileSync(spdxPath, '{"spdxVersion":"SPDX-2.3"}')
    ctx.sbom = { spdxPath, cyclonedxPath: '', spdxSha256: sha256('something else'), cyclonedxSha256: '' }
    await expect(attestStage.run(ctx)).rejects.toThrow(/changed since it was written/)
    expect(signed).toEqual([])
    expect(ctx.attestation).toBeUndefined()
  })

  it('runs only with attest: true', () => {
    const { ctx } = attesting()
    expect(attestStage.enabled?.(ctx)).toBe(true)
    ctx.config = { ...ctx.config, attest: { enabled: false, token: '' } }
    expect(attestStage.enabled?.(ctx)).toBe(false)
  })
})
