// compare: the image's sha256 against `expect-sha256` (or the line `expect-sha256sums` has for it),
// before anything is tested or published. A mismatch fails the run; the image stays next to its
// SHA256SUMS, and with `expect-image` diffoscope's report of what differs is written next to it.
import { diffImages, type DiffoscopeReport } from '../image/diffoscope.js'
import { expectedDigestFrom, SUMS_INPUT } from '../config/expected-digest.js'
import type { Stage } from '../pipeline/runner.js'

function reportSentence(report: DiffoscopeReport | undefined, reference: string | undefined): string {
  if (!report) return 'compare it with the expected one (set expect-image to have diffoscope do it)'
  if (report.missing)
    return `diffoscope is not installed (Debian: diffoscope-minimal), so ${reference} was not compared with it`
  if (report.failed) return `comparing it with ${reference} failed: ${report.failed}`
  if (report.same)
    return `diffoscope finds the root filesystems of it and ${reference} the same (the difference is elsewhere on the disk; report: ${report.textPath})`
  return `diffoscope's report of the differences from ${reference}: ${report.textPath} (and ${report.htmlPath})`
}

export const compareStage: Stage = {
  name: 'compare',
  enabled: ctx =>
    ctx.config.image.expectSha256 !== undefined || ctx.config.image.expectSha256Sums !== undefined,
  async run(ctx) {
    const { image: settings } = ctx.config
    if (!ctx.image) throw new Error('BUG: nothing to compare')
    const sums = settings.expectSha256Sums
    const fileName = `${ctx.imageName}.${settings.format}`
    const expected = settings.expectSha256 ?? (sums ? await expectedDigestFrom(sums, fileName) : undefined)
    if (!expected) throw new Error('BUG: no expected digest')
    const source = sums ? `${SUMS_INPUT} (${sums.location}, ${fileName})` : 'expect-sha256'
    ctx.reproducible = ctx.image.sha256 === expected
    if (ctx.reproducible) {
      ctx.log.info(`reproducible: the image's sha256 is the expected ${expected} (${source})`)
      return
    }
    const reference = settings.expectImage
    if (reference) ctx.diffoscope = { reference, ...(await diffImages(ctx, ctx.image.path, reference)) }
    throw new Error(
      `${source}: the image's sha256 is ${ctx.image.sha256}, not ${expected}: this build did not reproduce ` +
        `the expected image (the image is kept at ${ctx.image.path}; ${reportSentence(ctx.diffoscope, reference)})`
    )
  }
}
