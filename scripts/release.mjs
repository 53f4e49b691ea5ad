#!/usr/bin/env node
// Publishes the release of a pushed `vX.Y.Z` tag; .github/workflows/release.yml runs it on the tag's
// checkout (CONTRIBUTING.md, "How to cut a release"). In order, each refusing before anything changes:
//   1. the tag is `v` + package.json's version, and it is the commit checked out;
//   2. CHANGELOG.md has a non-empty `## [X.Y.Z]` section (the release notes);
//   3. dist/ matches a fresh bundle (`npm run check-dist`; --check-dist replaces the command);
// then it creates the GitHub release of the tag, or brings an existing one (a re-run, a draft) to the
// same notes, and moves the major tag `vX` to the tag's commit with a force-push of that one ref,
// unless a higher `vX.*.*` exists on origin (a backport release leaves `vX` where it is).
//
// Usage: node scripts/release.mjs [--tag vX.Y.Z] [--check-dist '["cmd","arg"]']
// Env: GITHUB_TOKEN (contents: write), GITHUB_REPOSITORY (owner/name), GITHUB_API_URL (GHES),
// GITHUB_REF_NAME (the tag, when --tag is not given).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { getOctokit } from '@actions/github'

const DEFAULT_CHECK_DIST = ['npm', 'run', 'check-dist']

class Refused extends Error {}

function run(argv, options = {}) {
  const [command, ...args] = argv
  const result = spawnSync(command, args, { encoding: 'utf8', ...options })
  if (result.error) throw new Refused(`${argv.join(' ')}: ${result.error.message}`)
  return result
}

function git(args) {
  const result = run(['git', ...args])
  if (result.status !== 0) {
    throw new Refused(`git ${args.join(' ')} failed (${result.status}): ${result.stderr.trim()}`)
  }
  return result.stdout.trim()
}

/** `vX.Y.Z` → its numbers, or undefined for anything else. */
function parseVersionTag(tag) {
  const match = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(tag)
  return match ? match.slice(1, 4).map(Number) : undefined
}

function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/**
 * The body of CHANGELOG.md's `## [version]` section (a ` - date` may follow the heading), up to the next
 * `## ` heading or the link definitions at the end; undefined when there is no such heading.
 */
function changelogSection(text, version) {
  const lines = text.split('\n')
  const heading = new RegExp(`^## \\[${version.replaceAll('.', '\\.')}\\](\\s|$)`)
  const start = lines.findIndex(line => heading.test(line))
  if (start < 0) return undefined
  const body = []
  for (const line of lines.slice(start + 1)) {
    if (/^## /.test(line) || /^\[[^\]]+\]:\s/.test(line)) break
    body.push(line)
  }
  return body.join('\n').trim()
}

function checkTag(tag) {
  const numbers = parseVersionTag(tag ?? '')
  if (!numbers) throw new Refused(`the tag must look like vX.Y.Z (e.g. v1.2.3), got ${JSON.stringify(tag)}`)
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'))
  if (tag !== `v${version}`) {
    throw new Refused(
      `tag ${tag} does not match package.json's version ${version}: bump the version and tag v${version}, ` +
        `or delete the tag (git push origin :refs/tags/${tag})`
    )
  }
  const commit = git(['rev-parse', '--verify', `refs/tags/${tag}^{commit}`])
  const head = git(['rev-parse', 'HEAD'])
  if (head !== commit)
    throw new Refused(`HEAD is ${head}, not the commit of ${tag} (${commit}): check out the tag`)
  return { version, numbers, commit }
}

function releaseNotes(version) {
  let text
  try {
    text = readFileSync('CHANGELOG.md', 'utf8')
  } catch (error) {
    throw new Refused(`can't read CHANGELOG.md: ${error.message}`)
  }
  const notes = changelogSection(text, version)
  if (notes === undefined) {
    throw new Refused(
      `CHANGELOG.md has no "## [${version}]" section: rename [Unreleased] to it before tagging`
    )
  }
  if (notes === '') throw new Refused(`CHANGELOG.md's "## [${version}]" section is empty`)
  return notes
}

function checkDist(command) {
  console.log(`dist: ${command.join(' ')}`)
  const result = run(command, { stdio: 'inherit' })
  if (result.status !== 0) {
    throw new Refused(
      `dist/ does not match a fresh bundle (${command.join(' ')} exited ${result.status ?? result.signal}): ` +
        'run npm run bundle, commit dist/, and tag that commit'
    )
  }
}

/** Creates the release of `tag`, or brings the one that exists (a re-run, a draft) to `notes`. */
async function publishRelease({ token, repository, tag, notes }) {
  const [owner, repo] = (repository ?? '').split('/')
  if (!owner || !repo)
    throw new Refused(`GITHUB_REPOSITORY must be owner/name, got ${JSON.stringify(repository)}`)
  if (!token) throw new Refused('GITHUB_TOKEN is not set (the release needs contents: write)')
  const octokit = getOctokit(token) // API root from GITHUB_API_URL (GitHub Enterprise Server)
  // Listing, not get-by-tag: that one doesn't see drafts.
  const releases = await octokit.paginate(octokit.rest.repos.listReleases, { owner, repo, per_page: 100 })
  const existing = releases.find(release => release.tag_name === tag)
  if (!existing) {
    const { data } = await octokit.rest.repos.createRelease({
      owner,
      repo,
      tag_name: tag,
      name: tag,
      body: notes,
      draft: false,
      make_latest: 'legacy' // the highest version is the latest, so a backport doesn't become it
    })
    return { url: data.html_url, done: 'created' }
  }
  if (!existing.draft && existing.body === notes)
    return { url: existing.html_url, done: 'already up to date' }
  const { data } = await octokit.rest.repos.updateRelease({
    owner,
    repo,
    release_id: existing.id,
    body: notes,
    draft: false
  })
  return { url: data.html_url, done: existing.draft ? 'published (was a draft)' : 'updated its notes' }
}

/** Moves `vX` to `commit` on origin unless a higher vX.*.* is there; force-pushes that one ref only. */
function moveMajorTag(numbers, commit) {
  const major = `v${numbers[0]}`
  const remote = git(['ls-remote', '--tags', 'origin'])
    .split('\n')
    .filter(Boolean)
    .map(line => line.split('\t'))
  const higher = remote
    .map(([, ref]) => parseVersionTag(ref.replace(/^refs\/tags\//, '')))
    .filter(other => other && other[0] === numbers[0] && compareVersions(other, numbers) > 0)
  if (higher.length > 0) {
    const newest = higher.sort(compareVersions).at(-1)
    return `${major} stays: v${newest.join('.')} is newer`
  }
  const current =
    remote.find(([, ref]) => ref === `refs/tags/${major}^{}`) ??
    remote.find(([, ref]) => ref === `refs/tags/${major}`)
  if (current?.[0] === commit) return `${major} already points to ${commit}`
  git(['tag', '--force', major, commit])
  const push = run(['git', 'push', 'origin', `+refs/tags/${major}:refs/tags/${major}`])
  if (push.status !== 0) {
    throw new Refused(
      `pushing ${major} failed: ${push.stderr.trim()}` +
        (/workflows? permission|workflow` scope/.test(push.stderr)
          ? ' (GITHUB_TOKEN may not move a tag across changes to .github/workflows: see CONTRIBUTING.md)'
          : '')
    )
  }
  return `${major} moved to ${commit}${current ? ` (was ${current[0]})` : ''}`
}

async function main() {
  const { values } = parseArgs({ options: { tag: { type: 'string' }, 'check-dist': { type: 'string' } } })
  const tag = values.tag ?? process.env.GITHUB_REF_NAME
  let command = DEFAULT_CHECK_DIST
  if (values['check-dist'] !== undefined) {
    command = JSON.parse(values['check-dist'])
    if (!Array.isArray(command) || command.length === 0 || !command.every(arg => typeof arg === 'string')) {
      throw new Refused('--check-dist takes a JSON array of strings: the command and its arguments')
    }
  }
  const { version, numbers, commit } = checkTag(tag)
  const notes = releaseNotes(version)
  checkDist(command)
  const release = await publishRelease({
    token: process.env.GITHUB_TOKEN,
    repository: process.env.GITHUB_REPOSITORY,
    tag,
    notes
  })
  console.log(`release ${tag}: ${release.done}: ${release.url}`)
  console.log(moveMajorTag(numbers, commit))
}

main().catch(error => {
  const message = error instanceof Refused ? error.message : (error.stack ?? String(error))
  console.error(`::error::release: ${message}`)
  process.exitCode = 1
})
