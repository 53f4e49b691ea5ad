// The built action attaches the image, SHA256SUMS, the manifest and the SBOMs to a GitHub release, run the way
// the runner runs it (GITHUB_API_URL, GITHUB_REPOSITORY, INPUT_GITHUB-TOKEN), against the fake GitHub
// that checks every request against GitHub's OpenAPI description, driven by the real octokit: a new
// release, an existing one with same-named assets (through a 422 race and a 502 that leaves a
// `starter` asset), the 2 GiB refusal and a read-only token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { FakeGitHub } from './fakes/github.js'
import { fixtureInputs, fixtureRepo, leaksUnder, runAction, scratchDir } from './helpers.js'

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function unmasked(output: string): string {
  return output
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
}

describe('release assets from the built action', () => {
  let fake: FakeGitHub
  let repo: string
  const dirs: string[] = []

  beforeAll(async () => {
    repo = fixtureRepo()
    fake = await FakeGitHub.start()
  }, 300_000)

  afterAll(async () => {
    await fake.close()
    for (const dir of dirs) execFileSync('rm', ['-rf', dir])
  })

  function build(token: string, tag: string, extra: Record<string, string> = {}) {
    const dir = scratchDir()
    dirs.push(dir)
    return runAction({
      dir,
      env: { GITHUB_API_URL: fake.apiUrl, GITHUB_REPOSITORY: fake.repository, GITHUB_SHA: 'a'.repeat(40) },
      inputs: {
        ...fixtureInputs(repo, dir),
        'image-name': 'released',
        'release-tag': tag,
        'release-name': `Arch image ${tag}`,
        'release-make-latest': 'true',
        'github-token': token,
        ...extra
      }
    })
  }

  it('creates a draft, uploads the five files, publishes it and reports it', async () => {
    const run = await build('write-token', 'nightly-20261125')
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])
    const release = fake.releases.find(r => r.tagName === 'nightly-20261125')
    expect(release).toMatchObject({
      draft: false,
      name: 'Arch image nightly-20261125',
      targetCommitish: 'a'.repeat(40)
    })
    const byName = Object.fromEntries((release?.assets ?? []).map(asset => [asset.name, asset]))
    expect(Object.keys(byName).sort()).toEqual([
      'SHA256SUMS',
      'released.cdx.json',
      'released.manifest',
      'released.qcow2',
      'released.spdx.json'
    ])
    expect(byName['released.qcow2']?.sha256).toBe(sha256(run.outputs['image-path'] as string))
    expect(byName['SHA256SUMS']?.sha256).toBe(sha256(run.outputs['sha256sums-path'] as string))
    expect(byName['released.manifest']?.contentType).toBe('text/plain')
    // The SBOMs (sbom: true is the default), each with its media type.
    expect(byName['released.spdx.json']?.sha256).toBe(sha256(run.outputs['sbom-spdx-path'] as string))
    expect(byName['released.spdx.json']?.contentType).toBe('application/spdx+json')
    expect(byName['released.cdx.json']?.sha256).toBe(sha256(run.outputs['sbom-cyclonedx-path'] as string))
    expect(byName['released.cdx.json']?.contentType).toBe('application/vnd.cyclonedx+json')
    expect(fake.uploads.every(upload => !upload.chunked && upload.contentLength === upload.bytes)).toBe(true)
    // Progress of the long steps: qemu-img's meter as at most a line per 10 % (never the raw meter), and
    // the image's upload (1.5 MB, more than the one 1 MiB read a small file goes out in) per 10 % sent.
    const converted = run.output.match(/^qemu-img convert: \d+%$/gm) ?? []
    expect(converted.length).toBeGreaterThanOrEqual(2)
    expect(converted.length).toBeLessThanOrEqual(10)
    expect(converted.at(-1)).toBe('qemu-img convert: 100%')
    expect(run.output).not.toMatch(/\(\d+\.\d+\/100%\)/)
    const size = byName['released.qcow2']?.size
    const uploaded = run.output.match(/^Uploading released\.qcow2: \d+% \(\d+ of \d+ bytes\)$/gm) ?? []
    expect(uploaded.length).toBeGreaterThanOrEqual(2)
    expect(uploaded.at(-1)).toBe(`Uploading released.qcow2: 100% (${size} of ${size} bytes)`)
    expect(run.output).not.toMatch(/^Uploading SHA256SUMS: /m)
    expect(run.outputs['release-url']).toMatch(/nightly-20261125/)
    const assets = JSON.parse(run.outputs['release-assets'] as string) as { name: string; size: number }[]
    expect(assets.map(asset => asset.name).sort()).toEqual([
      'SHA256SUMS',
      'released.cdx.json',
      'released.manifest',
      'released.qcow2',
      'released.spdx.json'
    ])
    expect(run.summary).toMatch(/<td>release<\/td><td>[0-9.]+ s<\/td><td>ok<\/td>/)
    // The runner consumes ::add-mask:: and hides the value in every later line; nothing else may show it.
    expect(run.output.split('\n')[0]).toBe('::add-mask::write-token')
    expect(unmasked(run.output)).not.toContain('write-token')
  }, 120_000)

  it('fails clearly with a read-only token and leaves no release behind', async () => {
    const before = fake.releases.length
    const run = await build('read-token', 'nightly-readonly')
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n') ?? ''
    expect(error).toMatch(/^stage "release" failed: /)
    expect(error).toMatch(/contents: write/)
    expect(fake.releases.length).toBe(before)
    expect(unmasked(run.output)).not.toContain('read-token')
    expect(leaksUnder(path.dirname(run.files.output))).toEqual({ loops: [], mounts: [] })
  }, 120_000)

  it('replaces same-named assets of an existing release, through a 422 race and a 502 starter', async () => {
    fake.seedRelease({
      tag: 'weekly-48',
      name: 'Arch image weekly-48',
      assets: { 'released.qcow2': 'old image', SHA256SUMS: 'old sums', 'notes.txt': 'keep me' }
    })
    const before = fake.requests.length
    fake.failNextUpload('starter-502', 'released.qcow2')
    fake.failNextUpload('already-exists', 'SHA256SUMS')
    const run = await build('write-token', 'weekly-48')
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])
    const [release] = fake.releaseByTag('weekly-48')
    const assets = Object.fromEntries((release?.assets ?? []).map(a => [a.name, `${a.state}:${a.sha256}`]))
    expect(assets).toEqual({
      'notes.txt': `uploaded:${createHash('sha256').update('keep me').digest('hex')}`,
      'released.qcow2': `uploaded:${sha256(run.outputs['image-path'] as string)}`,
      SHA256SUMS: `uploaded:${sha256(run.outputs['sha256sums-path'] as string)}`,
      'released.manifest': `uploaded:${sha256(run.outputs['manifest-path'] as string)}`,
      'released.spdx.json': `uploaded:${sha256(run.outputs['sbom-spdx-path'] as string)}`,
      'released.cdx.json': `uploaded:${sha256(run.outputs['sbom-cyclonedx-path'] as string)}`
    })
    expect(run.output).toMatch(/::warning::Uploading released.qcow2 failed \(.*HTTP 502.*\); retrying/)
    expect(run.output).toContain(
      '::warning::SHA256SUMS appeared on the release during the upload; replacing it'
    )
    expect(fake.operations().slice(before)).not.toContain('repos/create-release')
  }, 120_000)

  it('refuses an image of 2 GiB or more before any request, saying what to change', async () => {
    const requests = fake.requests.length
    const run = await build('write-token', 'raw-2g', {
      format: 'raw',
      compression: 'none',
      'disk-size': '2G'
    })
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n') ?? ''
    expect(error).toMatch(/^stage "release" failed: release: released.raw is 2.00 GiB/)
    expect(error).toMatch(/use `format: qcow2` with `compression: zstd` or `zlib`/)
    expect(fake.requests.length).toBe(requests)
    expect(fake.releaseByTag('raw-2g')).toEqual([])
  }, 300_000)
})
