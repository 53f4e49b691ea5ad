// handover: what the run leaves for later steps (image, SHA256SUMS, manifest, SBOMs, package cache) is
// given to the invoking user, so actions/upload-artifact or a cache save can read and remove it.
import type { Stage } from '../pipeline/runner.js'

export const handoverStage: Stage = {
  name: 'handover',
  async run(ctx) {
    const { image, owner, config } = ctx
    if (!image) throw new Error('BUG: no image')
    if (owner) {
      const spec = `${owner.uid}:${owner.gid}`
      const sboms = ctx.sbom ? [ctx.sbom.spdxPath, ctx.sbom.cyclonedxPath] : []
      await ctx.exec.run(
        [
          'chown',
          spec,
          config.image.outputDir,
          image.path,
          image.sha256sumsPath,
          image.manifestPath,
          ...sboms
        ],
        { privileged: true }
      )
      // Only a directory we created: chown -R of someone else's would take it from them.
      if (ctx.packageCache?.ours) {
        await ctx.exec.run(['chown', '-R', spec, '--', ctx.packageCache.dir], { privileged: true })
      }
    }
    for (const id of ctx.outputs) ctx.teardown.forget(id)
    ctx.outputs = []
  }
}
