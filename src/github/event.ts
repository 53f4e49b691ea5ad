// The pull request a workflow run is about, from the event the runner hands the action
// (GITHUB_EVENT_NAME and the JSON payload at GITHUB_EVENT_PATH).
import { readFileSync } from 'node:fs'
import type { PullRequestEvent } from '../config/config.js'

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target'])

/** The pull request of a `pull_request` or `pull_request_target` run, or undefined for other events. */
export function pullRequestFromEvent(env: NodeJS.ProcessEnv = process.env): PullRequestEvent | undefined {
  const name = env.GITHUB_EVENT_NAME ?? ''
  const file = env.GITHUB_EVENT_PATH
  if (!PULL_REQUEST_EVENTS.has(name) || !file) return undefined
  let payload: {
    action?: unknown
    number?: unknown
    pull_request?: { number?: unknown; head?: { sha?: unknown } }
  }
  try {
    payload = JSON.parse(readFileSync(file, 'utf8')) as typeof payload
  } catch (error) {
    throw new Error(`GITHUB_EVENT_PATH: can't read the ${name} event payload: ${(error as Error).message}`)
  }
  const number = payload.pull_request?.number ?? payload.number
  const headSha = payload.pull_request?.head?.sha
  if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0) {
    throw new Error(`GITHUB_EVENT_PATH: the ${name} event payload has no pull request number`)
  }
  if (typeof headSha !== 'string' || !/^[0-9a-f]{7,64}$/.test(headSha)) {
    throw new Error(`GITHUB_EVENT_PATH: the ${name} event payload has no pull_request.head.sha`)
  }
  return { number, headSha, action: typeof payload.action === 'string' ? payload.action : '' }
}
