// The compare stage: the image's sha256 against expect-sha256.
import { describe, expect, it } from '@jest/globals'
import { compareStage } from '../../src/stages/compare.js'
import { reproducibleOutput } from '../../src/pipeline/report.js'
import { testContext } from '../../test/support/context.js'

const DIGEST = 'ab'.repeat(32)

function withImage(inputs: Record<string, string>) {
  const { ctx } = testContext(inputs)
  ctx.image = {
    path: '/out/x.qcow2',
    format: 'qcow2',
    size: 1,
    virtualSize: 1,
    sha256: DIGEST,
    sha512: '',
    sha256sumsPath: '/out/SHA256SUMS',
    manifestPath: '/out/x.manifest'
  }
  return ctx
}

describe('compare stage', () => {
  it('does not run without expect-sha256, and the output says unchecked', () => {
    const ctx = withImage({})
    expect(compareStage.enabled?.(ctx)).toBe(false)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'unchecked' })
  })

  it('passes on the same digest (in any case) and sets reproducible true', async () => {
    const ctx = withImage({ 'expect-sha256': DIGEST.toUpperCase() })
    await compareStage.run(ctx)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'true' })
  })

  it('fails on another digest naming both and the kept image, and sets reproducible false', async () => {
    const ctx = withImage({ 'expect-sha256': 'cd'.repeat(32) })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      `expect-sha256: the image's sha256 is ${DIGEST}, not ${'cd'.repeat(32)}`
    )
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'false' })
  })
})
