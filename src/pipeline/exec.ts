// The one way the pipeline runs a program: an argv array (never a shell string), logged, with
// `sudo -n` in front of privileged commands when we are not root, and failures that carry the exit
// code and the end of stderr.
import { spawn } from 'node:child_process'
import type { Log } from './log.js'

export interface RunOptions {
  /** Needs root (loop devices, mounts, pacstrap, apt): prefixed with `sudo -n` unless we are root. */
  privileged?: boolean
  input?: string
  cwd?: string
  env?: Record<string, string>
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean
  /** Do not echo the command's output lines (they are still captured). */
  quiet?: boolean
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Callbacks that let the teardown stack follow running commands, so a killed run can stop them. */
export interface ProcessTracker {
  started(pid: number): number
  finished(handle: number): void
}

const STDERR_TAIL_LINES = 15
const CAPTURE_LIMIT = 8 * 1024 * 1024

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderrTail: string
  ) {
    const status = signal ? `was killed by ${signal}` : `exited with code ${code}`
    super(`${argv[0]} ${status}${stderrTail ? `:\n${stderrTail}` : ''}`)
    this.name = 'CommandError'
  }
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0
}

export class Exec {
  tracker?: ProcessTracker
  private closed = false

  constructor(
    private readonly log: Log,
    private readonly asRoot: boolean = isRoot()
  ) {}

  /** The argv actually run: `sudo -n [env K=V ...] --` in front of privileged commands when not root. */
  commandLine(argv: string[], options: RunOptions = {}): string[] {
    if (!options.privileged || this.asRoot) return argv
    const env = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`)
    return env.length > 0 ? ['sudo', '-n', '--', 'env', ...env, ...argv] : ['sudo', '-n', '--', ...argv]
  }

  /** Refuse to start anything more (the run was cancelled). */
  close(): void {
    this.closed = true
  }

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.closed) throw new Error(`not running ${argv[0]}: the run was cancelled`)
    if (argv.length === 0 || argv.some(arg => typeof arg !== 'string')) {
      throw new Error(`BUG: bad argv ${JSON.stringify(argv)}`)
    }
    const line = this.commandLine(argv, options)
    this.log.info(`$ ${line.map(shellQuote).join(' ')}`)
    const child = spawn(line[0] as string, line.slice(1), {
      cwd: options.cwd,
      env: { ...process.env, LC_ALL: 'C.UTF-8', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a teardown can stop it and everything it started.
      detached: true
    })
    const handle = child.pid !== undefined ? this.tracker?.started(child.pid) : undefined

    let stdout = ''
    let stderr = ''
    const echo = (text: string): void => {
      if (options.quiet) return
      for (const outputLine of text.split('\n')) if (outputLine.trim()) this.log.info(`  ${outputLine}`)
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < CAPTURE_LIMIT) stdout += chunk
      echo(chunk)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-CAPTURE_LIMIT)
      echo(chunk)
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')

    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.on('error', error =>
          reject(
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? new Error(`${line[0]}: command not found`)
              : error
          )
        )
        child.on('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }))
      }
    ).finally(() => {
      if (handle !== undefined) this.tracker?.finished(handle)
    })

    if (code !== 0 && !options.allowFailure) {
      const tail = stderr.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n')
      throw new CommandError(argv, code, signal, tail)
    }
    return { code: code ?? -1, stdout, stderr }
  }
}
