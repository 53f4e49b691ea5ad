// A recording Exec for unit tests: every command is kept (argv and options) and answered by the
// first rule that matches it, or with success and no output. Like the real seam it refuses to start
// anything once closed and throws CommandError on a non-zero exit unless allowFailure is set.
import {
  CommandError,
  type Exec,
  type ProcessTracker,
  type RunOptions,
  type RunResult
} from '../../src/pipeline/exec.js'

export interface RecordedCommand {
  argv: string[]
  options: RunOptions
}

type Answer =
  | Partial<RunResult>
  | ((argv: string[], options: RunOptions) => Partial<RunResult> | Promise<Partial<RunResult>>)

interface Rule {
  matches: (argv: string[]) => boolean
  answer: Answer
}

export class RecordingExec implements Exec {
  readonly commands: RecordedCommand[] = []
  tracker?: ProcessTracker
  closed = false
  private readonly rules: Rule[] = []

  /** Answer commands that start with `prefix` (words) or that `matches` accepts. */
  on(prefix: string[] | ((argv: string[]) => boolean), answer: Answer): this {
    const matches =
      typeof prefix === 'function' ? prefix : (argv: string[]) => prefix.every((word, i) => argv[i] === word)
    this.rules.push({ matches, answer })
    return this
  }

  close(): void {
    this.closed = true
  }

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.closed) throw new Error(`not running ${argv[0]}: the run was cancelled`)
    this.commands.push({ argv, options })
    const rule = this.rules.find(candidate => candidate.matches(argv))
    const given = typeof rule?.answer === 'function' ? await rule.answer(argv, options) : (rule?.answer ?? {})
    const result = { code: 0, stdout: '', stderr: '', ...given }
    if (result.code !== 0 && !options.allowFailure) {
      throw new CommandError(argv, result.code, null, result.stderr.trimEnd())
    }
    return result
  }

  /** The argv of every command run so far, each joined with spaces. */
  get lines(): string[] {
    return this.commands.map(command => command.argv.join(' '))
  }
}
