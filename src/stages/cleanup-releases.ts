// cleanup-releases (mode: cleanup): delete every release and draft of one pull request's previews, i.e.
// whose tag is `<image-family>-pr<N>` or starts with `<image-family>-pr<N>-`, and nothing else. Deleting a
// published release leaves its git tag behind, so the tag of each published one goes too (a draft has
// no tag). A tag of that shape without a release is not ours to judge and stays.
import { isPreviewTag, previewTagPrefix } from '../config/config.js'
import { explainReleaseError } from '../github/publish-release.js'
import { createGitHubRepo } from '../github/repo.js'
import type { Stage } from '../pipeline/runner.js'
import { workflowRepository } from '../github/octokit.js'

export const cleanupReleasesStage: Stage = {
  name: 'cleanup-releases',
  async run(ctx) {
    const { config } = ctx
    const pr = config.github.cleanup?.pr
    if (pr === undefined) throw new Error('BUG: cleanup without a pull request number')
    const repository = workflowRepository('the cleanup')
    const github = createGitHubRepo({ token: config.github.token, repository })
    const deleted = (ctx.deleted ??= [])
    const pattern = `${previewTagPrefix(config.image.family, pr)}[-*]`
    try {
      const ours = (await github.listReleases()).filter(r => isPreviewTag(r.tagName, config.image.family, pr))
      if (ours.length === 0) ctx.log.info(`no release or draft of pull request #${pr} (tags ${pattern})`)
      for (const release of ours) {
        await github.deleteRelease(release.id)
        const kind = release.draft ? 'draft' : 'release'
        deleted.push({ kind, name: release.tagName, id: String(release.id) })
        ctx.log.info(`deleted the ${kind} ${release.tagName} (${release.htmlUrl})`)
        if (release.draft) continue
        const tag = release.tagName
        let gone: boolean
        try {
          gone = await github.deleteTag(tag)
        } catch (error) {
          // The release is deleted already, so a rerun would never find this tag again: failing the
          // run can't help; say what is left and go on with the rest.
          const reason = error instanceof Error ? error.message : String(error)
          ctx.log.warning(
            `could not delete the tag ${tag} (${reason}); delete it by hand: git push --delete origin ${tag}`
          )
          continue
        }
        if (gone) {
          deleted.push({ kind: 'tag', name: tag, id: `refs/tags/${tag}` })
          ctx.log.info(`deleted the tag ${tag}`)
        } else {
          ctx.log.info(`the tag ${tag} was already gone (GitHub: Reference does not exist)`)
        }
      }
    } catch (error) {
      throw explainReleaseError(error, pattern)
    }
  }
}
