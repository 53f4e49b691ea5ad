// release: the image, SHA256SUMS, the manifest, the SBOMs and the attestation bundles as assets of a GitHub release.
import { createOctokitReleaser } from '../github/octokit-releaser.js'
import { publishRelease, type ReleaseFile } from '../github/publish-release.js'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { workflowRepository } from '../github/octokit.js'

/** The Sigstore bundles of the image's attestations, when it was attested. */
function bundleFiles(ctx: Context): ReleaseFile[] {
  const attestation = ctx.attestation
  if (!attestation) return []
  return [attestation.provenance, ...(attestation.sbom ? [attestation.sbom] : [])].map(stored => ({
    path: stored.bundlePath,
    contentType: 'application/json'
  }))
}

export const releaseStage: Stage = {
  name: 'release',
  enabled: ctx => ctx.config.github.release !== undefined,
  async run(ctx) {
    const release = ctx.config.github.release
    const image = ctx.image
    if (!release || !image) throw new Error('BUG: release without an image')
    const repository = workflowRepository('a release')
    const published = await publishRelease({
      releaser: createOctokitReleaser({ token: release.token, repository }),
      tag: release.tag,
      name: release.name || undefined,
      draft: release.draft,
      prerelease: release.prerelease,
      // A preview must not become the repository's latest release (nightlies diff against that one),
      // and its tag belongs on the PR head: GITHUB_SHA is a merge commit only refs/pull/N/merge holds.
      makeLatest: release.makeLatest ?? (ctx.config.github.preview ? 'false' : undefined),
      target: ctx.config.github.preview?.sha ?? (process.env.GITHUB_SHA || undefined),
      files: [
        { path: image.path },
        { path: image.sha256sumsPath, contentType: 'text/plain' },
        { path: image.manifestPath, contentType: 'text/plain' },
        ...(ctx.sbom
          ? [
              { path: ctx.sbom.spdxPath, contentType: 'application/spdx+json' },
              { path: ctx.sbom.cyclonedxPath, contentType: 'application/vnd.cyclonedx+json' }
            ]
          : []),
        ...bundleFiles(ctx)
      ],
      log: ctx.log
    })
    ctx.release = { url: published.url, assets: published.assets }
    ctx.log.info(`release ${release.tag}: ${published.url}`)
  }
}
