// compare: the image's sha256 against `expect-sha256`, before anything is tested or published. A
// mismatch fails the run; the image stays next to its SHA256SUMS so the two can be compared.
import type { Stage } from '../pipeline/runner.js'

export const compareStage: Stage = {
  name: 'compare',
  enabled: ctx => ctx.config.image.expectSha256 !== undefined,
  async run(ctx) {
    const expected = ctx.config.image.expectSha256
    if (!ctx.image || !expected) throw new Error('BUG: nothing to compare')
    ctx.reproducible = ctx.image.sha256 === expected
    if (!ctx.reproducible)
      throw new Error(
        `expect-sha256: the image's sha256 is ${ctx.image.sha256}, not ${expected}: this build did not reproduce ` +
          `the expected image (the image is kept at ${ctx.image.path}; compare it with the expected one, e.g. with diffoscope)`
      )
    ctx.log.info(`reproducible: the image's sha256 is the expected ${expected}`)
  }
}
