// The one way the pipeline runs a program: an argv array (never a shell string), logged, with
// `sudo -n` in front of privileged commands when we are not root, an environment built from an
// allowlist, and failures that carry the exit code and the end of stderr.
import { spawn } from 'node:child_process'
import type { Log } from './log.js'

export interface RunOptions {
  /** Needs root (loop devices, mounts, pacstrap, apt): prefixed with `sudo -n` unless we are root. */
  privileged?: boolean
  input?: string
  cwd?: string
  /** Variables this command needs beyond CHILD_ENV_ALLOWLIST (logged by name only). */
  env?: Record<string, string>
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean
  /** Do not echo the command's output lines (they are still captured). */
  quiet?: boolean
  /**
   * Each non-empty output line (stdout and stderr, ended by \n or \r, as progress meters end theirs)
   * goes here instead of the log, as it arrives; the output is still captured.
   */
  onLine?: (line: string) => void
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

/**
 * The variables of our own environment a spawned command sees, when we have them. What we run
 * executes code that is not ours (hook scripts, package scriptlets, arch-chroot, gpg, qemu, ssh), and
 * our environment holds the runner's secrets (INPUT_*, OS_*, ACTIONS_*, GITHUB_TOKEN): nothing else
 * of it is passed on. LC_ALL is always C.UTF-8; a command that needs more gets it from its caller
 * through RunOptions.env.
 */
export const CHILD_ENV_ALLOWLIST: readonly string[] = [
  'PATH',
  'LANG',
  'TZ',
  'HOME',
  'TERM',
  'SOURCE_DATE_EPOCH',
  // the proxies pacman, curl and apt download through
  'http_proxy',
  'https_proxy',
  'ftp_proxy',
  'all_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'FTP_PROXY',
  'ALL_PROXY',
  'NO_PROXY'
]

/** PATH of privileged commands run through sudo: the system's, never the unprivileged user's. */
export const SUDO_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** HOME of privileged commands run through sudo: root's (files root writes there stay out of the user's home). */
export const SUDO_HOME = '/root'

/** The whole environment of a spawned command: the allowlisted part of `parent`, LC_ALL, then `extra`. */
export function childEnvironment(
  parent: NodeJS.ProcessEnv,
  extra: Record<string, string> = {}
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of CHILD_ENV_ALLOWLIST) {
    const value = parent[name]
    if (value !== undefined) env[name] = value
  }
  return { ...env, LC_ALL: 'C.UTF-8', ...extra }
}

/** What is spawned for one command, and how it is shown in the log. */
export interface CommandPlan {
  argv: string[]
  /** The environment `argv[0]` is started with. */
  env: Record<string, string>
  /** The command for the log: no variable values (a proxy URL can carry a password). */
  display: string
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

/** Cuts a stream's chunks into lines at \n or \r, holding a partial line until its end arrives. */
function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let partial = ''
  const emit = (line: string): void => {
    if (line.trim()) onLine(line)
  }
  return {
    push(chunk) {
      const pieces = (partial + chunk).split(/\r\n|\r|\n/)
      partial = pieces.pop() ?? ''
      for (const piece of pieces) emit(piece)
    },
    end() {
      emit(partial)
      partial = ''
    }
  }
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0
}

/** The seam every command goes through; ProcessExec spawns, test/support/exec.ts records. */
export interface Exec {
  run(argv: string[], options?: RunOptions): Promise<RunResult>
  /** Refuse to start anything more (the run was cancelled). */
  close(): void
  /** Told of every process started, so the teardown stack can stop a killed run's commands. */
  tracker?: ProcessTracker
}

export class ProcessExec implements Exec {
  tracker?: ProcessTracker
  private closed = false

  constructor(
    private readonly log: Log,
    private readonly asRoot: boolean = isRoot(),
    /** Where the allowlisted variables come from. */
    private readonly parentEnv: NodeJS.ProcessEnv = process.env
  ) {}

  /**
   * What runs: the command with the allowlisted environment; for a privileged command when we are not
   * root, `sudo -n -- env -i K=V… argv`, so its environment is exactly ours whatever the sudoers file
   * keeps (`!env_reset`, env_keep), with the system's PATH and root's HOME.
   */
  plan(argv: string[], options: RunOptions = {}): CommandPlan {
    const env = childEnvironment(this.parentEnv, options.env)
    const names = Object.keys(options.env ?? {})
    const shown = (line: string[]): string =>
      line.map(shellQuote).join(' ') + (names.length > 0 ? `  [env: ${names.join(' ')}]` : '')
    if (!options.privileged || this.asRoot) return { argv, env, display: shown(argv) }
    const rootEnv = { ...env, PATH: SUDO_PATH, HOME: SUDO_HOME, ...options.env }
    const assignments = Object.entries(rootEnv).map(([name, value]) => `${name}=${value}`)
    return {
      argv: ['sudo', '-n', '--', 'env', '-i', ...assignments, ...argv],
      env,
      display: shown(['sudo', '-n', '--', ...argv])
    }
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
    const plan = this.plan(argv, options)
    this.log.info(`$ ${plan.display}`)
    const line = plan.argv
    const child = spawn(line[0] as string, line.slice(1), {
      cwd: options.cwd,
      env: plan.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a teardown can stop it and everything it started.
      detached: true
    })
    const handle = child.pid !== undefined ? this.tracker?.started(child.pid) : undefined

    let stdout = ''
    let stderr = ''
    const { onLine } = options
    const split = onLine ? { stdout: lineSplitter(onLine), stderr: lineSplitter(onLine) } : undefined
    const echo = (text: string): void => {
      if (options.quiet) return
      for (const outputLine of text.split('\n')) if (outputLine.trim()) this.log.info(`  ${outputLine}`)
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < CAPTURE_LIMIT) stdout += chunk
      if (split) split.stdout.push(chunk)
      else echo(chunk)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-CAPTURE_LIMIT)
      if (split) split.stderr.push(chunk)
      else echo(chunk)
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
      split?.stdout.end()
      split?.stderr.end()
    })

    if (code !== 0 && !options.allowFailure) {
      const tail = stderr.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n')
      throw new CommandError(argv, code, signal, tail)
    }
    return { code: code ?? -1, stdout, stderr }
  }
}
