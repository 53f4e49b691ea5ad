// mode: cleanup through the built dist/ as the runner runs it on `pull_request: closed`, against the
// fake GitHub (test/fakes/github.ts, every request checked against GitHub's OpenAPI description):
// every release and draft of that pull request's previews goes, with the git tags of the published ones,
// and nothing else does. No disk is touched.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { FakeGitHub } from './fakes/github.js'
import { leaksUnder, runAction, scratchDir } from './helpers.js'

/** A `pull_request` payload the way the runner writes it (the fields the action reads, and a few more). */
function closedEvent(dir: string, pr: number): string {
  const file = path.join(dir, 'event.json')
  const sha = 'c0ffee'.padEnd(40, '0')
  writeFileSync(
    file,
    JSON.stringify({
      action: 'closed',
      number: pr,
      pull_request: {
        number: pr,
        state: 'closed',
        merged: true,
        head: { ref: 'feature', sha },
        base: { ref: 'main', sha: 'b'.repeat(40) }
      },
      repository: { full_name: 'octo-org/arch-images' }
    })
  )
  return file
}

describe('mode: cleanup from the built action', () => {
  let fake: FakeGitHub
  const dirs: string[] = []

  beforeEach(async () => {
    fake = await FakeGitHub.start()
    // PR 7's previews (published, prerelease, draft), and what must survive: PR 70 and 8 of the same
    // family, PR 7 of another family, a nightly, and a tag that only contains "pr7".
    for (const tag of ['arch-cloud-pr7-1a2b3c4', 'arch-cloud-pr7'])
      fake.seedRelease({ tag, assets: { 'x.qcow2': 'x' } })
    fake.seedRelease({ tag: 'arch-cloud-pr7-9f8e7d6', draft: true })
    fake.seedRelease({ tag: 'arch-cloud-pr7-0000001', prerelease: true })
    for (const tag of [
      'arch-cloud-pr70-1a2b3c4',
      'arch-cloud-pr8-1a2b3c4',
      'other-pr7-1a2b3c4',
      'nightly-20261125'
    ])
      fake.seedRelease({ tag })
    fake.seedRelease({ tag: 'arch-cloud-pr8-5555555', draft: true })
    fake.seedRelease({ tag: 'xarch-cloud-pr7-1a2b3c4' })
  })

  afterEach(async () => {
    await fake.close()
    expect(fake.violations).toEqual([])
  })

  afterAll(() => {
    for (const dir of dirs) execFileSync('rm', ['-rf', dir])
  })

  function cleanup(inputs: Record<string, string>, event?: { name: string; pr: number }) {
    const dir = scratchDir('arch-image-cleanup-')
    dirs.push(dir)
    const env: Record<string, string> = { GITHUB_API_URL: fake.apiUrl, GITHUB_REPOSITORY: fake.repository }
    if (event) {
      env.GITHUB_EVENT_NAME = event.name
      env.GITHUB_EVENT_PATH = closedEvent(dir, event.pr)
    }
    return runAction({ dir, env, inputs: { mode: 'cleanup', 'github-token': 'write-token', ...inputs } })
  }

  const remaining = (): string[] => fake.releases.map(r => r.tagName).sort()
  const tags = (): string[] => [...fake.tags].sort()
  /** The refs `git/delete-ref` was called for, e.g. `tags/arch-cloud-pr7`. */
  const deletedRefs = (): string[] =>
    fake.requests.filter(r => r.operationId === 'git/delete-ref').map(r => r.params.ref as string)
  const survivors = [
    'arch-cloud-pr70-1a2b3c4',
    'arch-cloud-pr8-1a2b3c4',
    'arch-cloud-pr8-5555555',
    'nightly-20261125',
    'other-pr7-1a2b3c4',
    'xarch-cloud-pr7-1a2b3c4'
  ]
  // PR 7's published releases: their tags go with them. The draft has no tag to delete.
  const pr7Tags = ['arch-cloud-pr7', 'arch-cloud-pr7-0000001', 'arch-cloud-pr7-1a2b3c4']
  // Every survivor but the draft has a tag, and keeps it.
  const survivorTags = survivors.filter(tag => tag !== 'arch-cloud-pr8-5555555')

  it("on pull_request closed: deletes that PR's releases, their tags and its drafts, nothing else", async () => {
    expect(tags()).toEqual([...pr7Tags, ...survivorTags].sort())
    const run = await cleanup({}, { name: 'pull_request', pr: 7 })
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(remaining()).toEqual(survivors)
    expect(tags()).toEqual(survivorTags)
    // One delete-ref per published release, none for the draft (it has no tag).
    expect(deletedRefs().sort()).toEqual(pr7Tags.map(tag => `tags/${tag}`))
    const deleted = JSON.parse(run.outputs.deleted as string) as { kind: string; name: string; id: string }[]
    expect(deleted.map(d => `${d.kind} ${d.name}`).sort()).toEqual([
      'draft arch-cloud-pr7-9f8e7d6',
      'release arch-cloud-pr7',
      'release arch-cloud-pr7-0000001',
      'release arch-cloud-pr7-1a2b3c4',
      'tag arch-cloud-pr7',
      'tag arch-cloud-pr7-0000001',
      'tag arch-cloud-pr7-1a2b3c4'
    ])
    // Each tag right after its release.
    for (const tag of pr7Tags) {
      const at = deleted.findIndex(d => d.kind === 'release' && d.name === tag)
      expect(deleted[at + 1]).toEqual({ kind: 'tag', name: tag, id: `refs/tags/${tag}` })
    }
    // Only listing and deleting: no upload, no create, no update.
    expect(new Set(fake.operations())).toEqual(
      new Set(['repos/list-releases', 'repos/delete-release', 'git/delete-ref'])
    )
    expect(run.summary).toContain('arch-image: cleanup of pull request #7')
    expect(run.summary).toContain('| draft | arch-cloud-pr7-9f8e7d6 |')
    expect(run.summary).toContain('| tag | arch-cloud-pr7-1a2b3c4 | refs/tags/arch-cloud-pr7-1a2b3c4 |')
    expect(run.output).toContain('deleted the tag arch-cloud-pr7-1a2b3c4')
    expect(run.summary).toMatch(/<td>cleanup-releases<\/td><td>[0-9.]+ s<\/td><td>ok<\/td>/)
    // No build stage ran, so nothing of a build can be left.
    expect(run.summary).not.toMatch(/<td>disk<\/td>/)
    expect(run.outputs['image-path']).toBeUndefined()
    expect(leaksUnder(path.dirname(run.files.output))).toEqual({ loops: [], mounts: [] })
  }, 60_000)

  it('takes the number from pr-number on another event, and honours image-family', async () => {
    const before = remaining()
    const run = await cleanup({ 'pr-number': '7', 'image-family': 'other' })
    expect(run.code).toBe(0)
    expect(remaining()).toEqual(before.filter(tag => tag !== 'other-pr7-1a2b3c4'))
    expect(JSON.parse(run.outputs.deleted as string)).toEqual([
      { kind: 'release', name: 'other-pr7-1a2b3c4', id: expect.any(String) },
      { kind: 'tag', name: 'other-pr7-1a2b3c4', id: 'refs/tags/other-pr7-1a2b3c4' }
    ])
    expect(tags()).not.toContain('other-pr7-1a2b3c4')
    expect(tags()).toContain('arch-cloud-pr7')
  }, 60_000)

  it('a tag someone already deleted is no error: the run says it was gone and goes on', async () => {
    fake.tags.delete('arch-cloud-pr7')
    const run = await cleanup({}, { name: 'pull_request', pr: 7 })
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(run.output).toContain('the tag arch-cloud-pr7 was already gone')
    expect(remaining()).toEqual(survivors)
    expect(tags()).toEqual(survivorTags)
    const refCalls = fake.requests.filter(r => r.operationId === 'git/delete-ref')
    expect(refCalls.map(r => `${r.status} ${r.params.ref}`).sort()).toEqual([
      '204 tags/arch-cloud-pr7-0000001',
      '204 tags/arch-cloud-pr7-1a2b3c4',
      '422 tags/arch-cloud-pr7'
    ])
    const deleted = JSON.parse(run.outputs.deleted as string) as { kind: string; name: string }[]
    expect(
      deleted
        .filter(d => d.kind === 'tag')
        .map(d => d.name)
        .sort()
    ).toEqual(['arch-cloud-pr7-0000001', 'arch-cloud-pr7-1a2b3c4'])
    expect(deleted).toContainEqual(expect.objectContaining({ kind: 'release', name: 'arch-cloud-pr7' }))
  }, 60_000)

  it('a tag GitHub refuses to delete (a tag ruleset) is a warning naming it; the rest is deleted', async () => {
    fake.failNext({
      operationId: 'git/delete-ref',
      status: 422,
      body: {
        message: 'Repository rule violations found\n\nCannot delete this tag.',
        documentation_url: 'https://docs.github.com/rest/git/refs#delete-a-reference'
      }
    })
    const run = await cleanup({}, { name: 'pull_request', pr: 7 })
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    const warning = /::warning::(could not delete the tag .*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n')
    expect(warning).toMatch(
      /^could not delete the tag (arch-cloud-pr7\S*) .*Cannot delete this tag.*git push --delete origin \1$/s
    )
    expect(remaining()).toEqual(survivors)
    const kept = pr7Tags.filter(tag => tags().includes(tag))
    expect(kept).toHaveLength(1)
    expect(warning).toContain(`the tag ${kept[0]} `)
  }, 60_000)

  it('a tag of the preview shape without a release is not touched', async () => {
    fake.tags.add('arch-cloud-pr7-deadbee')
    const run = await cleanup({}, { name: 'pull_request', pr: 7 })
    expect(run.code).toBe(0)
    expect(tags()).toEqual([...survivorTags, 'arch-cloud-pr7-deadbee'].sort())
    expect(deletedRefs()).not.toContain('tags/arch-cloud-pr7-deadbee')
  }, 60_000)

  it('a second run finds nothing left and says so', async () => {
    await cleanup({}, { name: 'pull_request', pr: 7 })
    const run = await cleanup({}, { name: 'pull_request', pr: 7 })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.outputs.deleted as string)).toEqual([])
    expect(run.summary).toContain('Nothing of pull request #7 was left to delete.')
    expect(remaining()).toEqual(survivors)
    expect(tags()).toEqual(survivorTags)
  }, 60_000)

  it('without a pull request number it fails before calling GitHub, naming the input', async () => {
    const run = await cleanup({})
    expect(run.code).toBe(1)
    expect(run.output).toMatch(
      /::error::invalid input:.*pr-number: is empty and the event is not a pull request/
    )
    expect(fake.requests).toEqual([])
  }, 60_000)

  it('with a read-only token: a clear error and nothing deleted', async () => {
    const before = remaining()
    const run = await cleanup({ 'github-token': 'read-token' }, { name: 'pull_request', pr: 7 })
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n') ?? ''
    expect(error).toMatch(/^stage "cleanup-releases" failed: .*contents: write/)
    expect(remaining()).toEqual(before)
    expect(tags()).toEqual([...pr7Tags, ...survivorTags].sort())
    expect(fake.writes().map(w => w.status)).toEqual([403])
  }, 60_000)
})
