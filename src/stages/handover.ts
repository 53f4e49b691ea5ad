// handover: what the run leaves for later steps (image, SHA256SUMS, manifest, package cache) is
// given to the invoking user, so actions/upload-artifact or a cache save can read and remove it.
import type { Owner } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'

/** The user to hand files to: ourselves when not root, the sudo caller when root through sudo. */
export function invokingOwner(env: NodeJS.ProcessEnv = process.env): Owner | undefined {
  const uid = process.getuid?.()
  const gid = process.getgid?.()
  if (uid === undefined || gid === undefined) return undefined
  if (uid !== 0) return { uid, gid }
  const sudoUid = Number(env.SUDO_UID)
  const sudoGid = Number(env.SUDO_GID)
  if (Number.isInteger(sudoUid) && sudoUid > 0 && Number.isInteger(sudoGid))
    return { uid: sudoUid, gid: sudoGid }
  return undefined
}

export const handoverStage: Stage = {
  name: 'handover',
  async run(ctx) {
    const { image, owner, config } = ctx
    if (!image) throw new Error('BUG: no image')
    if (owner) {
      const spec = `${owner.uid}:${owner.gid}`
      await ctx.exec.run(
        ['chown', spec, config.outputDir, image.path, image.sha256sumsPath, image.manifestPath],
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
