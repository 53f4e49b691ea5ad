// comment: one comment on the preview's pull request with the image facts and the package diff. Found
// again by a hidden marker (one per image family) and updated in place on every push, but only a marked
// comment the token's own identity wrote: a marker in someone else's comment is left alone.
import { tokenAuthor, writtenBy } from '../github/comment-author.js'
import { createGitHubRepo } from '../github/repo.js'
import { diffMarkdown } from '../manifest/diff.js'
import type { Context } from '../pipeline/context.js'
import { factRows } from '../pipeline/report.js'
import type { Stage } from '../pipeline/runner.js'
import { workflowRepository } from '../github/octokit.js'

export function commentMarker(family: string): string {
  return `<!-- arch-image preview: ${family} -->`
}

export function commentBody(ctx: Context): string {
  const { config } = ctx
  const sha = config.github.preview?.sha ?? ''
  const rows = factRows(ctx).filter(([name]) => name !== 'file')
  if (ctx.release) rows.push(['release', ctx.release.url])
  const lines = [
    commentMarker(config.image.family),
    `### arch-image preview: \`${ctx.imageName}\``,
    '',
    `Built from ${sha.slice(0, 7)} (${sha}).`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([name, value]) => `| ${name} | ${name === 'sha256' ? `\`${value}\`` : value} |`),
    ''
  ]
  if (ctx.packageDiff) lines.push(diffMarkdown(ctx.packageDiff.diff, ctx.packageDiff.against))
  return lines.join('\n')
}

export const commentStage: Stage = {
  name: 'comment',
  enabled: ctx => ctx.config.github.comment && ctx.config.github.preview !== undefined,
  async run(ctx) {
    const preview = ctx.config.github.preview
    if (!preview) throw new Error('BUG: comment without a pull request')
    const repository = workflowRepository('a comment')
    const github = createGitHubRepo({ token: ctx.config.github.token, repository })
    const body = commentBody(ctx)
    const marker = commentMarker(ctx.config.image.family)
    try {
      const author = tokenAuthor(await github.authenticatedUser())
      const marked = (await github.listComments(preview.pr)).filter(c => c.body.startsWith(marker))
      const ours = marked.find(c => writtenBy(c, author))
      const others = marked.filter(c => !writtenBy(c, author))
      if (others.length > 0) {
        ctx.log.warning(
          `pull request #${preview.pr}: left alone ${others.length} comment(s) with arch-image's marker ` +
            `not written by ${author.login} (by ${others.map(c => c.author?.login ?? 'a deleted account').join(', ')})`
        )
      }
      const comment = ours
        ? await github.updateComment(ours.id, body)
        : await github.createComment(preview.pr, body)
      ctx.comment = { url: comment.htmlUrl, updated: ours !== undefined }
      ctx.log.info(
        `${ours ? 'updated' : 'posted'} the comment on pull request #${preview.pr}: ${comment.htmlUrl}`
      )
    } catch (error) {
      const status = (error as { status?: number }).status
      if (status === 403 || status === 404) {
        throw new Error(
          `can't comment on pull request #${preview.pr}: give the job \`permissions: pull-requests: write\` ` +
            `(a pull request from a fork only gets a read-only token). (${(error as Error).message})`
        )
      }
      throw error
    }
  }
}
