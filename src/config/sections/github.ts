// What the run does on GitHub: the token, the release the assets go to, the pull request preview and
// its comment, `mode: cleanup`'s pull request, and the manifest the package diff compares with.
import path from 'node:path'
import type { ConfigEnv, SectionInput } from '../reader.js'
import { isFile, parseBool, quote } from '../validate.js'

export interface Preview {
  pr: number
  /** Full sha of the PR head commit. */
  sha: string
}

export interface ReleaseConfig {
  tag: string
  name: string
  draft: boolean
  prerelease: boolean
  makeLatest?: 'true' | 'false' | 'legacy'
  token: string
}

export type PreviousManifest = { kind: 'path'; path: string } | { kind: 'release' }

export interface GitHubConfig {
  /** `github-token`: for the release, the cleanup, the comment and the previous manifest. */
  token: string
  /** The GitHub release the image's files are attached to (`release-tag`); undefined: none. */
  release?: ReleaseConfig
  /** A build for a pull request (a pull_request/pull_request_target event): a preview, kept private. */
  preview?: Preview
  /** Post or update one comment on the preview's pull request (only with `preview`). */
  comment: boolean
  /** `mode: cleanup`: the pull request whose previews are deleted. */
  cleanup?: { pr: number }
  /** Where the manifest to diff against comes from. */
  previousManifest?: PreviousManifest
}

/** Every release tag `<family>-pr<N>` or `<family>-pr<N>-…` belongs to pull request N's previews. */
export function previewTagPrefix(family: string, pr: number): string {
  return `${family}-pr${pr}`
}

export function isPreviewTag(tag: string, family: string, pr: number): boolean {
  const prefix = previewTagPrefix(family, pr)
  return tag === prefix || tag.startsWith(`${prefix}-`)
}

/** A build on a pull request event is that pull request's preview (a cleanup builds nothing). */
export function previewOf(mode: string, env: ConfigEnv): Preview | undefined {
  return mode !== 'cleanup' && env.pullRequest
    ? { pr: env.pullRequest.number, sha: env.pullRequest.headSha }
    : undefined
}

/** A token that is empty or an unexpanded `${{ ... }}` (the CLI sees the action's default literally). */
function tokenMissing(token: string): boolean {
  return !token || token.includes('${{')
}

function parseRelease({ get, problems }: SectionInput, mode: string): ReleaseConfig | undefined {
  const tag = get('release-tag')
  // Git's ref name rules, in short: no spaces or control characters, none of ~^:?*[ and backslash, no '..' or '@{'.
  if (
    tag &&
    // eslint-disable-next-line no-control-regex
    (/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|^[-/.]|[/.]$|\.lock$/.test(tag) || tag.length > 200)
  ) {
    problems.push(
      `release-tag: ${quote(tag)} is not a valid tag name; use letters, digits, '.', '-', '_' and '/'`
    )
  }
  const draft = parseBool(problems, 'release-draft', get('release-draft'))
  const prerelease = parseBool(problems, 'release-prerelease', get('release-prerelease'))
  const makeLatest = get('release-make-latest')
  if (makeLatest && !['true', 'false', 'legacy'].includes(makeLatest)) {
    problems.push(
      `release-make-latest: ${quote(makeLatest)} is not accepted; use true, false, legacy or leave it empty`
    )
  }
  if (!tag) return undefined
  const token = get('github-token')
  if (tokenMissing(token)) {
    problems.push(
      'github-token: is empty; a release needs a token with contents: write (the default is ${{ github.token }})'
    )
  }
  if (mode === 'publish') {
    problems.push('release-tag: mode: publish only publishes to Glance; attach release assets in the build')
  }
  return {
    tag,
    name: get('release-name'),
    draft,
    prerelease,
    makeLatest: (makeLatest || undefined) as ReleaseConfig['makeLatest'],
    token
  }
}

function parsePreviousManifest({ get, problems, env }: SectionInput): PreviousManifest | undefined {
  const text = get('previous-manifest')
  if (text === 'release') {
    if (tokenMissing(get('github-token'))) {
      problems.push(
        "github-token: is empty; previous-manifest: release reads the latest release's manifest with it"
      )
    }
    return { kind: 'release' }
  }
  if (!text) return undefined
  const file = path.resolve(env.cwd, text)
  if (!isFile(file)) {
    problems.push(
      `previous-manifest: ${quote(text)} is not a file; use the path of an earlier build's manifest, release, or leave it empty`
    )
  }
  return { kind: 'path', path: file }
}

function parseCleanup({ get, problems, env }: SectionInput, mode: string): { pr: number } | undefined {
  const text = get('pr-number')
  if (text && !/^[1-9]\d{0,9}$/.test(text)) {
    problems.push(`pr-number: ${quote(text)} is not accepted; use a pull request number such as 42`)
  }
  if (mode !== 'cleanup') return undefined
  const pr = text ? Number(text) : env.pullRequest?.number
  if (pr === undefined) {
    problems.push(
      'pr-number: is empty and the event is not a pull request; mode: cleanup needs the pull request number (run it on pull_request: closed, or set pr-number)'
    )
  }
  if (tokenMissing(get('github-token'))) {
    problems.push(
      'github-token: is empty; mode: cleanup deletes releases with it (needs contents: write; the default is ${{ github.token }})'
    )
  }
  return pr === undefined ? undefined : { pr }
}

export function parseGitHub(input: SectionInput, mode: string, preview: Preview | undefined): GitHubConfig {
  const token = input.get('github-token')
  const release = parseRelease(input, mode)
  const comment = parseBool(input.problems, 'comment', input.get('comment'))
  if (comment && mode === 'build' && !preview) {
    input.warnings.push(
      'comment: true needs a pull_request or pull_request_target event; no comment is posted'
    )
  }
  if (comment && preview && tokenMissing(token)) {
    input.problems.push(
      'github-token: is empty; a pull request comment needs a token with pull-requests: write'
    )
  }
  const previousManifest = parsePreviousManifest(input)
  const cleanup = parseCleanup(input, mode)
  return { token, release, preview, comment, cleanup, previousManifest }
}
