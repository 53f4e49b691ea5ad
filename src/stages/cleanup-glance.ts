// cleanup-glance (mode: cleanup): delete the Glance images of one pull request's previews in every
// target (each cloud, in each region): those in our project whose arch_image_family is
// `<image-family>-pr<N>` and whose arch_image_pr is N. A target that fails does not stop the others.
import { previewTagPrefix } from '../config/config.js'
import type { GlanceApi } from '../openstack/glance.js'
import { FAMILY_PROPERTY } from '../openstack/publish.js'
import type { DeletedItem } from '../pipeline/context.js'
import type { Log } from '../pipeline/log.js'
import type { Stage } from '../pipeline/runner.js'

export const PR_PROPERTY = 'arch_image_pr'

export const cleanupGlanceStage: Stage = {
  name: 'cleanup-glance',
  enabled: ctx => ctx.config.glance !== undefined,
  async run(ctx) {
    const pr = ctx.config.github.cleanup?.pr
    const targets = ctx.openstackTargets ?? []
    if (pr === undefined || targets.length === 0)
      throw new Error('BUG: cleanup-glance without a pull request or Glance')
    const family = previewTagPrefix(ctx.config.image.family, pr)
    const deleted = (ctx.deleted ??= [])
    const failures: string[] = []
    for (const { label, connection } of targets) {
      const where = targets.length > 1 ? `Glance ${label}` : 'Glance'
      try {
        const problems = await deletePreviews(connection.glance, { family, pr, where, log: ctx.log }, item =>
          deleted.push(targets.length > 1 ? { ...item, target: label } : item)
        )
        failures.push(...problems)
      } catch (error) {
        failures.push(`${where}: ${(error as Error).message}`)
      }
    }
    if (failures.length > 0) throw new Error(failures.join('\n'))
  }
}

/** Delete one target's images of the pull request; returns what could not be deleted and why. */
async function deletePreviews(
  glance: GlanceApi,
  options: { family: string; pr: number; where: string; log: Log },
  onDeleted: (item: DeletedItem) => void
): Promise<string[]> {
  const { family, pr, where, log } = options
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
  if (ours.length === 0) log.info(`${where}: no image of pull request #${pr} (family ${family})`)
  const failures: string[] = []
  for (const image of ours) {
    const label = `${image.id} (${image.name ?? ''})`
    if (image.protected) {
      failures.push(`${where} image ${label} is protected; unprotect it to let the cleanup delete it`)
      continue
    }
    await glance.deleteImage(image.id)
    onDeleted({ kind: 'image', name: image.name ?? '', id: image.id })
    log.info(`${where}: deleted image ${label}`)
  }
  return failures
}
