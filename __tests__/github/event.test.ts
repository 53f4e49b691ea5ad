import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { pullRequestFromEvent } from '../../src/github/event.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-event-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'

function eventFile(name: string, payload: unknown): NodeJS.ProcessEnv {
  const file = path.join(dir, `${name}-${Math.random().toString(16).slice(2)}.json`)
  writeFileSync(file, JSON.stringify(payload))
  return { GITHUB_EVENT_NAME: name, GITHUB_EVENT_PATH: file }
}

describe('the pull request of the event', () => {
  const payload = { action: 'opened', number: 42, pull_request: { number: 42, head: { sha: SHA } } }

  it('is read from pull_request and pull_request_target payloads', () => {
    expect(pullRequestFromEvent(eventFile('pull_request', payload))).toEqual({
      number: 42,
      headSha: SHA,
      action: 'opened'
    })
    expect(pullRequestFromEvent(eventFile('pull_request_target', payload))?.number).toBe(42)
  })

  it('is undefined for other events', () => {
    expect(pullRequestFromEvent(eventFile('push', { after: SHA }))).toBeUndefined()
    expect(pullRequestFromEvent({})).toBeUndefined()
  })

  it('is an error when the payload is not a pull request', () => {
    expect(() => pullRequestFromEvent(eventFile('pull_request', { action: 'opened' }))).toThrow(
      /no pull request number/
    )
    expect(() =>
      pullRequestFromEvent({
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: path.join(dir, 'missing')
      })
    ).toThrow(/can't read the pull_request event payload/)
  })
})
