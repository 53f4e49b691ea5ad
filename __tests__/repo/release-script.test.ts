// scripts/release.mjs as the release workflow runs it: in a clone whose "origin" is a bare repository
// here, with the fake GitHub (test/fakes/github.ts, real octokit, every request checked against GitHub's
// OpenAPI description). A release is created from the changelog section, the major tag moves on origin
// and nothing else does; a wrong version, a missing or empty changelog section and a stale dist/ are
// refused before anything changes; a re-run changes nothing; a backport leaves the major tag alone.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { FakeGitHub } from '../../test/fakes/github.js'
import { tempDir } from '../../test/support/temp-dir.js'

// Each run starts node and git several times: seconds on a loaded runner.
jest.setTimeout(60_000)

const script = path.resolve(import.meta.dirname, '../../scripts/release.mjs')

// check-dist's shape: make the "fresh bundle", then dist/ must equal what is committed.
const bundleAs = (content: string): string =>
  JSON.stringify(['sh', '-c', `printf '${content}' > dist/index.js && git diff --exit-code -- dist`])

const changelog = (sections: Record<string, string>): string =>
  [
    '# Changelog',
    '',
    '## [Unreleased]',
    '',
    ...Object.entries(sections).flatMap(([version, body]) => [`## [${version}] - 2026-12-03`, '', body, '']),
    '[Unreleased]: https://example.invalid/compare',
    ''
  ].join('\n')

describe('scripts/release.mjs', () => {
  let fake: FakeGitHub
  let origin: string
  let work: string

  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
      cwd: work,
      encoding: 'utf8'
    }).trim()
  /** origin's refs: name → the commit it points to (tags peeled). */
  const originRefs = (): Record<string, string> => {
    const refs: Record<string, string> = {}
    const lines = execFileSync('git', ['ls-remote', origin], { encoding: 'utf8' }).trim().split('\n')
    for (const [sha, ref] of lines.map(line => line.split('\t') as [string, string])) {
      refs[ref.replace(/\^\{\}$/, '')] = sha
    }
    return refs
  }

  /** Commit package.json at `version`, the changelog and dist/, tag `tag` and push both. */
  function commitAndTag(
    version: string,
    tag: string,
    log: string,
    dist = 'bundle\\n',
    branch = 'main'
  ): string {
    writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'arch-image', version }, null, 2))
    writeFileSync(path.join(work, 'CHANGELOG.md'), log)
    writeFileSync(path.join(work, 'dist/index.js'), dist.replace('\\n', '\n'))
    git('add', '-A')
    git('commit', '-q', '--allow-empty', '-m', `release ${version}`)
    git('tag', '-a', '-m', tag, tag)
    git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`, `refs/tags/${tag}`)
    return git('rev-parse', 'HEAD')
  }

  function release(tag: string, checkDist = bundleAs('bundle\\n')) {
    return new Promise<{ code: number; output: string }>(resolve => {
      execFile(
        process.execPath,
        [script, '--check-dist', checkDist],
        {
          cwd: work,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            GITHUB_REF_NAME: tag,
            GITHUB_TOKEN: 'write-token',
            GITHUB_REPOSITORY: fake.repository,
            GITHUB_API_URL: fake.apiUrl
          }
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` })
      )
    })
  }

  beforeAll(async () => {
    fake = await FakeGitHub.start()
    const dir = tempDir()
    origin = path.join(dir, 'origin.git')
    work = path.join(dir, 'work')
    execFileSync('git', ['init', '-q', '--bare', origin])
    execFileSync('git', ['init', '-q', '-b', 'main', work])
    execFileSync('mkdir', [path.join(work, 'dist')])
    git('remote', 'add', 'origin', origin)
    // v1.2.2, released before: v1 points to it.
    const first = commitAndTag('1.2.2', 'v1.2.2', changelog({ '1.2.2': '### Fixed\n\n- An older fix.' }))
    git('tag', 'v1', first)
    git('push', '-q', 'origin', 'refs/tags/v1')
  })

  afterAll(async () => {
    await fake.close()
  })

  it('creates the release from the changelog section and moves only the major tag on origin', async () => {
    const notes = '### Added\n\n- Release the action itself.\n\n### Fixed\n\n- Something.'
    const commit = commitAndTag(
      '1.3.0',
      'v1.3.0',
      changelog({ '1.3.0': notes, '1.2.2': '### Fixed\n\n- An older fix.' })
    )
    const before = originRefs()
    expect(before['refs/tags/v1']).not.toBe(commit)

    const run = await release('v1.3.0')
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])
    const [created] = fake.releaseByTag('v1.3.0')
    expect(created).toMatchObject({ name: 'v1.3.0', body: notes, draft: false, makeLatest: 'legacy' })
    expect(run.output).toContain('release v1.3.0: created')

    // v1 moved to the release's commit (not to the annotated tag object); no other ref changed.
    expect(originRefs()).toEqual({ ...before, 'refs/tags/v1': commit })
    expect(run.output).toContain(`v1 moved to ${commit}`)
  })

  it('a re-run changes nothing', async () => {
    const before = originRefs()
    const writes = fake.writes().length
    const run = await release('v1.3.0')
    expect(run.code).toBe(0)
    expect(run.output).toContain('release v1.3.0: already up to date')
    expect(run.output).toContain('v1 already points to')
    expect(fake.writes()).toHaveLength(writes)
    expect(fake.releaseByTag('v1.3.0')).toHaveLength(1)
    expect(originRefs()).toEqual(before)
  })

  it('publishes a draft of the tag made by hand, with the changelog notes', async () => {
    commitAndTag('1.3.1', 'v1.3.1', changelog({ '1.3.1': '- Draft made by hand.' }))
    fake.seedRelease({ tag: 'v1.3.1', draft: true, name: 'by hand' })
    const run = await release('v1.3.1')
    expect(run.code).toBe(0)
    expect(fake.violations).toEqual([])
    expect(fake.releaseByTag('v1.3.1')).toEqual([
      expect.objectContaining({ draft: false, name: 'by hand', body: '- Draft made by hand.' })
    ])
    expect(run.output).toContain('published (was a draft)')
  })

  describe('refuses before anything changes', () => {
    /** Runs the release of `tag` and checks that it changed no ref on origin and made no API write. */
    async function refused(tag: string, checkDist?: string): Promise<string> {
      const refs = originRefs()
      const writes = fake.writes().length
      const run = await release(tag, checkDist)
      expect(run.code).toBe(1)
      expect(originRefs()).toEqual(refs)
      expect(fake.writes()).toHaveLength(writes)
      expect(fake.releaseByTag(tag)).toEqual([])
      return run.output
    }

    it('a tag that is not package.json version', async () => {
      commitAndTag('1.4.0', 'v1.4.1', changelog({ '1.4.0': '- x', '1.4.1': '- x' }))
      expect(await refused('v1.4.1')).toContain(
        "::error::release: tag v1.4.1 does not match package.json's version 1.4.0"
      )
    })

    it('a tag that is not vX.Y.Z', async () => {
      expect(await refused('v1.4')).toContain('the tag must look like vX.Y.Z')
    })

    it('a changelog without the version section', async () => {
      commitAndTag('1.5.0', 'v1.5.0', changelog({ '1.4.0': '- older' }))
      expect(await refused('v1.5.0')).toContain('CHANGELOG.md has no "## [1.5.0]" section')
    })

    it('an empty changelog section', async () => {
      commitAndTag('1.6.0', 'v1.6.0', changelog({ '1.6.0': '', '1.5.0': '- older' }))
      expect(await refused('v1.6.0')).toContain('"## [1.6.0]" section is empty')
    })

    it('a dist/ that differs from a fresh bundle', async () => {
      commitAndTag('1.7.0', 'v1.7.0', changelog({ '1.7.0': '- new' }), 'stale\\n')
      const output = await refused('v1.7.0', bundleAs('bundle\\n'))
      expect(output).toContain('dist/ does not match a fresh bundle')
      expect(output).toContain('dist/index.js') // git diff's report
    })
  })

  it('a backport release below the newest of its major leaves the major tag where it is', async () => {
    const v1 = originRefs()['refs/tags/v1']
    git('checkout', '-q', '--force', 'v1.3.0') // the refused dist check left dist/ changed
    const commit = commitAndTag(
      '1.3.2',
      'v1.3.2',
      changelog({ '1.3.2': '- Backported fix.' }),
      'bundle\\n',
      'release-1.3'
    )
    // v1.7.0 (refused above) exists on origin: it is the newer v1.
    const run = await release('v1.3.2')
    expect(run.code).toBe(0)
    expect(fake.releaseByTag('v1.3.2')).toHaveLength(1)
    expect(run.output).toContain('v1 stays: v1.7.0 is newer')
    expect(originRefs()['refs/tags/v1']).toBe(v1)
    expect(originRefs()['refs/tags/v1.3.2']).toBe(commit)
  })
})
