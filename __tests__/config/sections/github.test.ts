// Pull request previews, mode: cleanup, comment and previous-manifest in the config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { isPreviewTag } from '../../../src/config/config.js'
import type { PullRequestEvent } from '../../../src/config/config.js'
import { config as configIn, problemsOf as problemsIn, type Inputs } from '../../../test/support/config.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-preview-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'
const PR: PullRequestEvent = { number: 42, headSha: SHA, action: 'synchronize' }

const config = (inputs: Inputs, pullRequest?: PullRequestEvent) => configIn(inputs, { cwd: dir, pullRequest })
const problemsOf = (inputs: Inputs, pullRequest?: PullRequestEvent) =>
  problemsIn(inputs, { cwd: dir, pullRequest })

describe('previews', () => {
  it('name the image <family>-pr<N>-<short head sha> and carry the PR facts', () => {
    const c = config({ 'image-family': 'arch-min' }, PR)
    expect(c.image.name).toBe('arch-min-pr42-3f78685')
    expect(c.github.preview).toEqual({ pr: 42, sha: SHA })
  })

  it('keep an explicit image-name, still as a preview of the PR', () => {
    const c = config({ 'image-name': 'mine' }, PR)
    expect(c.image.name).toBe('mine')
    expect(c.github.preview).toEqual({ pr: 42, sha: SHA })
  })

  it('are not made outside pull requests', () => {
    const c = config({})
    expect(c.image.name).toBe('')
    expect(c.github.preview).toBeUndefined()
  })

  it('own exactly the tags <family>-pr<N> and <family>-pr<N>-…', () => {
    expect(isPreviewTag('arch-cloud-pr7', 'arch-cloud', 7)).toBe(true)
    expect(isPreviewTag('arch-cloud-pr7-1a2b3c4', 'arch-cloud', 7)).toBe(true)
    expect(isPreviewTag('arch-cloud-pr70-1a2b3c4', 'arch-cloud', 7)).toBe(false)
    expect(isPreviewTag('arch-cloud-pr8', 'arch-cloud', 7)).toBe(false)
    expect(isPreviewTag('xarch-cloud-pr7', 'arch-cloud', 7)).toBe(false)
    expect(isPreviewTag('arch-cloud-20261125', 'arch-cloud', 7)).toBe(false)
  })
})

describe('mode: cleanup', () => {
  it('takes the PR number from the event, or from pr-number', () => {
    const token = { 'github-token': 't' }
    expect(config({ mode: 'cleanup', ...token }, PR).github.cleanup).toEqual({ pr: 42 })
    expect(config({ mode: 'cleanup', 'pr-number': '7', ...token }).github.cleanup).toEqual({ pr: 7 })
    expect(config({ mode: 'cleanup', 'pr-number': '7', ...token }, PR).github.cleanup).toEqual({ pr: 7 })
    // A cleanup run is no preview build.
    expect(config({ mode: 'cleanup', ...token }, PR).github.preview).toBeUndefined()
  })

  it('names what is missing', () => {
    expect(problemsOf({ mode: 'cleanup' })).toEqual([
      expect.stringMatching(/^pr-number: is empty and the event is not a pull request/),
      expect.stringMatching(/^github-token: is empty; mode: cleanup deletes releases/)
    ])
    expect(problemsOf({ mode: 'cleanup', 'pr-number': '#7', 'github-token': 't' })).toEqual([
      'pr-number: "#7" is not accepted; use a pull request number such as 42'
    ])
  })
})

describe('comment and previous-manifest', () => {
  it('comment on a pull request; outside one it only warns', () => {
    expect(config({ comment: 'true', 'github-token': 't' }, PR).github.comment).toBe(true)
    const c = config({ comment: 'true', 'github-token': 't' })
    expect(c.warnings).toContain(
      'comment: true needs a pull_request or pull_request_target event; no comment is posted'
    )
    expect(problemsOf({ comment: 'yes' }, PR)).toEqual(['comment: "yes" is not accepted; use true or false'])
  })

  it('previous-manifest is a file or release', () => {
    const manifest = path.join(dir, 'old.manifest')
    writeFileSync(manifest, 'base 3-2\n')
    expect(config({ 'previous-manifest': 'old.manifest' }).github.previousManifest).toEqual({
      kind: 'path',
      path: manifest
    })
    expect(config({ 'previous-manifest': 'release', 'github-token': 't' }).github.previousManifest).toEqual({
      kind: 'release'
    })
    expect(problemsOf({ 'previous-manifest': 'nope.manifest' })).toEqual([
      expect.stringMatching(
        /^previous-manifest: "nope.manifest" is not a file; use the path of an earlier build's manifest, release/
      )
    ])
  })
})
