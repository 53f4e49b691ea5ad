// cleanup-glance (mode: cleanup): delete the Glance images of one pull request's previews: those in
// our project whose arch_image_family is `<image-family>-pr<N>` and whose arch_image_pr is N.
import { previewTagPrefix } from '../config/config.js'
import { FAMILY_PROPERTY } from '../openstack/publish.js'
import type { Stage } from '../pipeline/runner.js'

export const PR_PROPERTY = 'arch_image_pr'

export const cleanupGlanceStage: Stage = {
  name: 'cleanup-glance',
  enabled: ctx => ctx.config.glance !== undefined,
  async run(ctx) {
    const pr = ctx.config.github.cleanup?.pr
    const glance = ctx.openstack?.glance
    if (pr === undefined || !glance) throw new Error('BUG: cleanup-glance without a pull request or Glance')
    const family = previewTagPrefix(ctx.config.image.family, pr)
    const owner = await glance.projectId()
    const listed = await glance.listImages({
      properties: { [FAMILY_PROPERTY]: family },
      visibility: 'all',
      ...(owner ? { owner } : {})
    })
    // check every property ourselves: a Glance that ignored a filter must not cost anyone an image
    const ours = listed.filter(
      image =>
        image[FAMILY_PROPERTY] === family &&
        image[PR_PROPERTY] === String(pr) &&
        (!owner || image.owner === owner)
    )
    if (ours.length === 0) ctx.log.info(`Glance: no image of pull request #${pr} (family ${family})`)
    const deleted = (ctx.deleted ??= [])
    const failures: string[] = []
    for (const image of ours) {
      const label = `${image.id} (${image.name ?? ''})`
      if (image.protected) {
        failures.push(`Glance image ${label} is protected; unprotect it to let the cleanup delete it`)
        continue
      }
      await glance.deleteImage(image.id)
      deleted.push({ kind: 'image', name: image.name ?? '', id: image.id })
      ctx.log.info(`Glance: deleted image ${label}`)
    }
    if (failures.length > 0) throw new Error(failures.join('\n'))
  }
}
