// A pull request preview through the built dist/ as the runner runs it on `pull_request` events, with
// the fake GitHub (test/fakes/github.ts, every request checked against GitHub's OpenAPI description):
// the image is named after the PR and its head, the package diff against the latest release's manifest
// lands in the job summary and in ONE comment on the PR, which the next push updates in place; the
// preview's release is tagged on the PR head and never becomes the repository's latest. A comment
// someone else wrote with the action's marker (posted before the first preview) is never edited.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { FakeGitHub } from './fakes/github.js'
import { fixtureInputs, fixtureRepo, leaksUnder, runAction, scratchDir } from './helpers.js'

const MARKER = '<!-- arch-image preview: arch-cloud -->'

const PREVIOUS_MANIFEST = [
  'base 0.9-3',
  'busybox 1:0.5-1',
  'filesystem 1.0-1',
  'fixture-gone 2-1',
  'fixture-service 1.0-1',
  'linux 6.12.1.arch1-1',
  ''
].join('\n')

describe('pull request previews from the built action', () => {
  let fake: FakeGitHub
  let repo: string
  const dirs: string[] = []

  beforeAll(async () => {
    repo = fixtureRepo()
    fake = await FakeGitHub.start()
    fake.pullRequests.add(7)
    fake.seedComment(7, 'Looks good to me')
    fake.seedComment(
      7,
      `${MARKER}\n### arch-image preview: \`arch-cloud-pr7-0000000\`\nDownload it [here](https://evil.example)`,
      {
        login: 'mallory',
        type: 'User'
      }
    )
    fake.seedRelease({ tag: 'nightly-20261123', assets: { 'arch-cloud-20261123.manifest': 'base 0.1-1\n' } })
    fake.seedRelease({
      tag: 'nightly-20261124',
      assets: {
        'arch-cloud-20261124.qcow2': 'not an image',
        'arch-cloud-20261124.manifest': PREVIOUS_MANIFEST
      }
    })
    fake.seedRelease({ tag: 'arch-cloud-pr3-aaaaaaa', prerelease: true })
  }, 300_000)

  afterAll(async () => {
    await fake.close()
    for (const dir of dirs) execFileSync('rm', ['-rf', dir])
  })

  function preview(sha: string, extra: Record<string, string> = {}) {
    const dir = scratchDir()
    dirs.push(dir)
    const event = path.join(dir, 'event.json')
    writeFileSync(
      event,
      JSON.stringify({
        action: 'synchronize',
        number: 7,
        pull_request: { number: 7, state: 'open', head: { ref: 'feature', sha }, base: { ref: 'main' } }
      })
    )
    return runAction({
      dir,
      env: {
        GITHUB_API_URL: fake.apiUrl,
        GITHUB_REPOSITORY: fake.repository,
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: event,
        // The merge commit, not the head: the name must come from the head.
        GITHUB_SHA: 'e'.repeat(40)
      },
      inputs: {
        ...fixtureInputs(repo, dir),
        packages: 'fixture-hello',
        'previous-manifest': 'release',
        comment: 'true',
        'release-tag': 'arch-cloud-pr7',
        'github-token': 'write-token',
        ...extra
      }
    })
  }

  // The workflow's token (write-token) comments as github-actions[bot].
  const ours = () =>
    fake.comments.filter(c => c.body.startsWith(MARKER) && c.author.login === 'github-actions[bot]')
  const mallorys = () => fake.comments.filter(c => c.author.login === 'mallory')
  let mallory: string
  beforeAll(() => {
    mallory = JSON.stringify(mallorys())
  })

  it('names the image after the PR head, diffs against the latest release and comments once', async () => {
    const sha = '1a2b3c4d5e6f'.padEnd(40, '7')
    const run = await preview(sha)
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])

    expect(run.outputs['image-name']).toBe('arch-cloud-pr7-1a2b3c4')
    expect(path.basename(run.outputs['image-path'] as string)).toBe('arch-cloud-pr7-1a2b3c4.qcow2')

    const diff = JSON.parse(run.outputs['package-diff'] as string)
    expect(diff).toEqual({
      added: [
        { name: 'fixture-hello', version: '1.0-1' },
        { name: 'fixture-leftovers', version: '1.0-1' }
      ],
      removed: [
        { name: 'linux', version: '6.12.1.arch1-1' },
        { name: 'fixture-gone', version: '2-1' }
      ],
      upgraded: [{ name: 'base', from: '0.9-3', to: '1.0-1' }],
      // An epoch outranks any version.
      downgraded: [{ name: 'busybox', from: '1:0.5-1', to: '1.0-1' }]
    })
    const against = 'nightly-20261124 (arch-cloud-20261124.manifest)'
    expect(run.summary).toContain('Package changes')
    expect(run.summary).toContain(`Packages since ${against}: 1 upgraded, 1 downgraded, 2 added, 2 removed.`)
    expect(run.summary).toContain('| linux | removed | 6.12.1.arch1-1 | |')

    // One comment of ours next to the reviewer's, with the image facts and the same diff, kernel first.
    // Mallory's comment carries the marker but is not ours: left as it was, ours posted after it.
    expect(fake.comments).toHaveLength(3)
    expect(fake.comments[0]?.body).toBe('Looks good to me')
    expect(JSON.stringify(mallorys())).toBe(mallory)
    expect(fake.comments[2]?.id).toBe(ours()[0]?.id)
    expect(run.output).toMatch(
      /::warning::.*left alone 1 comment\(s\) with arch-image's marker not written by github-actions\[bot\] \(by mallory\)/
    )
    const [comment] = ours()
    const body = comment?.body ?? ''
    expect(body).toContain('### arch-image preview: `arch-cloud-pr7-1a2b3c4`')
    expect(body).toContain(`Built from 1a2b3c4 (${sha}).`)
    expect(body).toContain(`| sha256 | \`${run.outputs.sha256}\` |`)
    expect(body).toMatch(/\| size \| [0-9.]+ [KM]iB \(\d+ bytes\) \|/)
    expect(body).toContain('| virtual size | 1.0 GiB |')
    const rows = body
      .split('\n')
      .filter(line => /^\| [a-z-]+ \| (upgraded|downgraded|added|removed) \|/.test(line))
    expect(rows[0]).toBe('| linux | removed | 6.12.1.arch1-1 | |')
    expect(rows).toHaveLength(6)
    expect(run.outputs['comment-url']).toBe(
      `https://github.com/octo-org/arch-images/pull/7#issuecomment-${comment?.id}`
    )
    expect(run.summary).toMatch(/<td>comment<\/td><td>[0-9.]+ s<\/td><td>ok<\/td>/)

    // The preview's release is tagged on the PR head and never made the repository's latest.
    const [release] = fake.releaseByTag('arch-cloud-pr7')
    expect(release).toMatchObject({ draft: false, targetCommitish: sha, makeLatest: 'false' })
    expect(body).toContain(`| release | ${run.outputs['release-url']} |`)
    expect(leaksUnder(path.dirname(run.files.output))).toEqual({ loops: [], mounts: [] })
  }, 300_000)

  it('the next push updates the same comment instead of adding one', async () => {
    const before = ours()[0]
    const run = await preview('9f8e7d6c5b4a'.padEnd(40, '3'))
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])
    expect(run.outputs['image-name']).toBe('arch-cloud-pr7-9f8e7d6')
    expect(fake.comments).toHaveLength(3)
    expect(ours()).toHaveLength(1)
    expect(ours()[0]?.id).toBe(before?.id)
    expect(ours()[0]?.body).toContain('### arch-image preview: `arch-cloud-pr7-9f8e7d6`')
    expect(JSON.stringify(mallorys())).toBe(mallory)
    expect(fake.operations().filter(op => op.startsWith('issues/') || op.startsWith('users/'))).toEqual([
      'users/get-authenticated',
      'issues/list-comments',
      'issues/create-comment',
      'users/get-authenticated',
      'issues/list-comments',
      'issues/update-comment'
    ])
    // The release of the first push was reused, and it did not become the latest: the diff is still
    // against the nightly.
    expect(fake.operations().filter(op => op === 'repos/create-release')).toHaveLength(1)
    expect(run.summary).toContain('Packages since nightly-20261124 (arch-cloud-20261124.manifest)')
  }, 300_000)

  it('a token that may not comment fails the step saying which permission is missing', async () => {
    const before = fake.comments.map(c => `${c.id}:${c.updatedAt}:${c.body}`)
    const run = await preview('5'.repeat(40), { 'github-token': 'read-token', 'release-tag': '' })
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1] ?? ''
    expect(error).toMatch(/^stage "comment" failed: can't comment on pull request #7: .*pull-requests: write/)
    expect(fake.comments.map(c => `${c.id}:${c.updatedAt}:${c.body}`)).toEqual(before)
    // The runner hides a masked value everywhere after ::add-mask::; nothing else may show it.
    expect(
      run.output
        .split('\n')
        .filter(line => !line.startsWith('::add-mask::'))
        .join('\n')
    ).not.toMatch(/read-token/)
  }, 300_000)
})
