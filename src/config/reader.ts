// How the section parsers read inputs: by a name from the inputs table (a misspelt name fails to
// compile), with its default applied, collecting every problem so that all are reported together.
import { INPUTS, type InputName } from './inputs.js'

export type { InputName }

/** Reads one input as given; empty string = unset. */
export type InputReader = (name: InputName) => string

/** The pull request a run is about (github/event.ts reads it from the runner's event payload). */
export interface PullRequestEvent {
  number: number
  /** The PR head's commit (not GITHUB_SHA, which is the merge commit on pull_request events). */
  headSha: string
  /** `opened`, `synchronize`, `closed`, ... */
  action: string
}

export interface ConfigEnv {
  cwd: string
  runnerTemp?: string
  /** The pull request of the triggering event, if it is one. */
  pullRequest?: PullRequestEvent
  /** The process environment (OS_* variables for Glance). */
  environment?: Record<string, string | undefined>
  /** Masks a secret in every log from now on (core.setSecret). */
  mask?: (secret: string) => void
}

/** What a section parser reads from and reports to. */
export interface SectionInput {
  /** The input's value, or its default when it is empty. */
  get: (name: InputName) => string
  /** The input's value as given (empty when unset). */
  read: InputReader
  env: ConfigEnv
  /** Every bad input, each naming the input and what is accepted. */
  problems: string[]
  warnings: string[]
}

/** Every bad input of one run, reported together. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid input:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** An input's value, or its default when it is empty. */
export function inputGetter(read: InputReader): (name: InputName) => string {
  const defaults = new Map<string, string>(INPUTS.map(input => [input.name, input.default]))
  return name => {
    // The type already refuses unknown names; this catches callers from plain JavaScript.
    if (!defaults.has(name)) throw new Error(`BUG: unknown input ${name}`)
    const value = read(name).trim()
    return value === '' ? (defaults.get(name) ?? '') : value
  }
}

export function sectionInput(read: InputReader, env: ConfigEnv): SectionInput {
  return { get: inputGetter(read), read, env, problems: [], warnings: [] }
}
