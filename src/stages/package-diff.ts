// package-diff: this build's packages against an earlier manifest (a file, or the manifest asset of
// the repository's latest release). Runs before the release stage, which may make this build the latest.
import { readFileSync } from 'node:fs'
import { createGitHubRepo } from '../github/repo.js'
import { diffCounts, diffManifests, parseManifest } from '../manifest/diff.js'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { workflowRepository } from '../github/octokit.js'

async function previousManifest(ctx: Context): Promise<{ against: string; text: string } | undefined> {
  const source = ctx.config.github.previousManifest
  if (!source) return undefined
  if (source.kind === 'path') return { against: source.path, text: readFileSync(source.path, 'utf8') }
  const repository = workflowRepository('previous-manifest: release')
  const github = createGitHubRepo({ token: ctx.config.github.token, repository })
  const latest = await github.latestRelease()
  if (!latest) {
    ctx.log.warning('previous-manifest: the repository has no latest release yet; no package diff')
    return undefined
  }
  const asset = latest.assets.find(a => a.name.endsWith('.manifest') && a.state === 'uploaded')
  if (!asset) {
    ctx.log.warning(
      `previous-manifest: the latest release ${latest.tagName} has no .manifest asset; no package diff`
    )
    return undefined
  }
  const text = (await github.downloadAsset(asset)).toString('utf8')
  return { against: `${latest.tagName} (${asset.name})`, text }
}

export const packageDiffStage: Stage = {
  name: 'package-diff',
  enabled: ctx => ctx.config.github.previousManifest !== undefined,
  async run(ctx) {
    if (!ctx.installed) throw new Error('BUG: package diff before the manifest')
    let previous
    try {
      previous = await previousManifest(ctx)
    } catch (error) {
      // The diff is a report: GitHub being unreachable or the token lacking read access must not fail a build.
      if (ctx.config.github.previousManifest?.kind !== 'release') throw error
      ctx.log.warning(`previous-manifest: release: ${(error as Error).message}; no package diff`)
      return
    }
    if (!previous) return
    let before: Map<string, string>
    try {
      before = parseManifest(previous.text)
    } catch (error) {
      throw new Error(`previous-manifest ${previous.against}: ${(error as Error).message}`)
    }
    const now = new Map(ctx.installed.map(p => [p.name, p.version]))
    const diff = diffManifests(before, now)
    ctx.packageDiff = { against: previous.against, diff }
    ctx.log.info(`packages since ${previous.against}: ${diffCounts(diff)}`)
    for (const c of diff.upgraded) ctx.log.info(`  upgraded ${c.name} ${c.from} -> ${c.to}`)
    for (const c of diff.downgraded) ctx.log.info(`  downgraded ${c.name} ${c.from} -> ${c.to}`)
    for (const p of diff.added) ctx.log.info(`  added ${p.name} ${p.version}`)
    for (const p of diff.removed) ctx.log.info(`  removed ${p.name} ${p.version}`)
  }
}
