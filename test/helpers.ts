// Shared by the root tests: the fixture repository, running the built action the way the runner
// does (INPUT_* env, GITHUB_OUTPUT/STATE/STEP_SUMMARY files, then the post entry), reading an image
// back, and checking that nothing was left attached or mounted.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

// Bundled benchmarks (bench/run.sh) run from a temp dir and say where the checkout is.
export const REPO_ROOT = process.env.ARCH_IMAGE_REPO_ROOT ?? path.resolve(import.meta.dirname, '..')
export const MAIN = path.join(REPO_ROOT, 'dist/main/index.js')
export const POST = path.join(REPO_ROOT, 'dist/post/index.js')

export function scratchDir(prefix = 'arch-image-it-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  chmodSync(dir, 0o755)
  return dir
}

/** The offline fixture repository, built once per script version and shared by the tests (locked, stamped). */
export function fixtureRepo(): string {
  const script = path.join(REPO_ROOT, 'test/fixtures/make-repo.sh')
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12)
  const dir = path.join(os.tmpdir(), `arch-image-fixture-repo-${hash}`)
  execFileSync(script, [dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  return dir
}

export function fixtureMirror(repo: string): string {
  return `file://${repo}/$repo/os/$arch`
}

/**
 * The inputs of a small build from the fixture repository: the host's pacman, no cloud configuration,
 * a 1 GiB disk, the package cache under `dir`. Tests spread their own inputs over it.
 */
export function fixtureInputs(repo: string, dir: string): Record<string, string> {
  return {
    mirror: fixtureMirror(repo),
    'signature-level': 'Never',
    'pacman-from': 'host',
    configure: 'false',
    'base-packages': 'base',
    'disk-size': '1G',
    'package-cache-dir': path.join(dir, 'pkg-cache')
  }
}

/** Parse a GitHub file command file (GITHUB_OUTPUT, GITHUB_STATE): name<<delimiter ... delimiter; last value wins. */
export function parseFileCommands(file: string): Record<string, string> {
  const values: Record<string, string> = {}
  if (!existsSync(file)) return values
  const lines = readFileSync(file, 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^=<]+)<<(.+)$/.exec(lines[i] as string)
    if (match) {
      const [, name, delimiter] = match as unknown as [string, string, string]
      const value: string[] = []
      while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i] as string)
      values[name] = value.join('\n')
    } else if (lines[i]?.includes('=')) {
      const [name, ...rest] = (lines[i] as string).split('=')
      values[name as string] = rest.join('=')
    }
  }
  return values
}

export interface ActionRun {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  files: { output: string; state: string; summary: string }
}

export interface ActionOptions {
  inputs: Record<string, string>
  /** Directory for the runner files, RUNNER_TEMP and the workspace. */
  dir: string
  env?: Record<string, string>
  /** Run as another user through sudo (a hosted runner's unprivileged user). */
  user?: string
  /** The main entry to run (default dist/main/index.js of this checkout). */
  main?: string
  onStart?: (child: ChildProcess) => void
}

/**
 * An `onStart` that SIGKILLs main the moment the state it saved (GITHUB_STATE in `dir`) satisfies
 * `ready`, as a runner kills a cancelled or timed-out step; `killed()` says whether it did.
 */
export function killWhenState(
  dir: string,
  ready: (state: string) => boolean
): { onStart: (child: ChildProcess) => void; killed: () => boolean } {
  let killed = false
  return {
    killed: () => killed,
    onStart: child => {
      const poll = setInterval(() => {
        if (!ready(readFileSync(path.join(dir, 'github_state'), 'utf8'))) return
        clearInterval(poll)
        killed = child.kill('SIGKILL')
      }, 10)
      child.on('close', () => clearInterval(poll))
    }
  }
}

export function actionEnv(options: ActionOptions): {
  env: Record<string, string>
  files: ActionRun['files']
} {
  const files = {
    output: path.join(options.dir, 'github_output'),
    state: path.join(options.dir, 'github_state'),
    summary: path.join(options.dir, 'step_summary')
  }
  for (const file of Object.values(files)) if (!existsSync(file)) writeFileSync(file, '')
  const runnerTemp = path.join(options.dir, 'runner_temp')
  const workspace = path.join(options.dir, 'workspace')
  mkdirSync(runnerTemp, { recursive: true })
  mkdirSync(workspace, { recursive: true })
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: workspace,
    ...options.env
  }
  for (const [name, value] of Object.entries(options.inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  return { env, files }
}

async function runNode(script: string, env: Record<string, string>, cwd: string, options: ActionOptions) {
  const argv = options.user
    ? [
        'sudo',
        '-n',
        '-u',
        options.user,
        '--',
        'env',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        process.execPath,
        script
      ]
    : [process.execPath, script]
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd,
    env: options.user ? { PATH: process.env.PATH ?? '' } : env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', chunk => (output += chunk))
  child.stderr.on('data', chunk => (output += chunk))
  options.onStart?.(child)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve =>
    child.on('close', (c, s) => resolve([c, s]))
  )
  return { code, signal, output }
}

/** Run dist/main as the runner does; the post entry is separate (runPost). */
export async function runAction(options: ActionOptions): Promise<ActionRun> {
  const { env, files } = actionEnv(options)
  const result = await runNode(options.main ?? MAIN, env, env.GITHUB_WORKSPACE as string, options)
  return {
    ...result,
    outputs: parseFileCommands(files.output),
    state: parseFileCommands(files.state),
    summary: readFileSync(files.summary, 'utf8'),
    files
  }
}

/** Run dist/post with the main step's saved state as STATE_* variables, as the runner does. */
export async function runPost(options: ActionOptions): Promise<{ code: number | null; output: string }> {
  const { env, files } = actionEnv(options)
  for (const [name, value] of Object.entries(parseFileCommands(files.state))) env[`STATE_${name}`] = value
  return runNode(POST, env, env.GITHUB_WORKSPACE as string, options)
}

/** Loop devices whose backing file, and mounts whose target, lie under `dir`. */
export interface CliBuild {
  status: number | null
  stderr: string
  /** The outputs `--json` printed; empty when it printed none (stderr says why). */
  outputs: Record<string, string>
}

/** `arch-image build --json` from dist/ in `dir` (its cwd and TMPDIR), as a user at a terminal runs it. */
export function cliBuild(dir: string, inputs: Record<string, string>): CliBuild {
  const flags = Object.entries(inputs).flatMap(([name, value]) => [`--${name}`, value])
  const result = spawnSync(
    process.execPath,
    [path.join(REPO_ROOT, 'dist/cli/index.js'), 'build', '--json', ...flags],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, TMPDIR: dir, SUDO_UID: '', SUDO_GID: '' }
    }
  )
  let outputs: Record<string, string> = {}
  try {
    outputs = JSON.parse(result.stdout) as Record<string, string>
  } catch {
    // stderr says why
  }
  return { status: result.status, stderr: result.stderr, outputs }
}

export function leaksUnder(dir: string): { loops: string[]; mounts: string[] } {
  const listing = execFileSync('losetup', ['--noheadings', '--output', 'NAME,BACK-FILE', '--list'], {
    encoding: 'utf8'
  })
  const loops = listing
    .split('\n')
    .filter(line => line.includes(` ${dir}/`))
    .map(line => line.trim())
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map(line => line.split(' ')[4] ?? '')
    .filter(target => target === dir || target.startsWith(`${dir}/`))
  return { loops, mounts }
}

function run(argv: string[]): string {
  return execFileSync(argv[0] as string, argv.slice(1), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/**
 * Convert an image back to raw, attach it read-only and mount its root read-only for `inspect`
 * (`raw`: the whole disk, for reading its bytes).
 */
export async function withImageRoot<T>(
  image: string,
  inspect: (root: string, partitions: { esp: string; root: string; raw: string }) => Promise<T> | T
): Promise<T> {
  const dir = scratchDir('arch-image-inspect-')
  const raw = path.join(dir, 'disk.raw')
  const mnt = path.join(dir, 'mnt')
  mkdirSync(mnt)
  let device = ''
  try {
    run(['qemu-img', 'convert', '-O', 'raw', image, raw])
    device = run(['losetup', '--find', '--show', '--read-only', '--partscan', raw]).trim()
    try {
      run(['partx', '-u', device])
    } catch {
      // the kernel may already have done it
    }
    const rootNode = `${device}p3`
    for (let i = 0; i < 100 && !existsSync(rootNode); i++) await sleep(100)
    run(['mount', '-o', 'ro', rootNode, mnt])
    try {
      return await inspect(mnt, { esp: `${device}p2`, root: rootNode, raw })
    } finally {
      run(['umount', mnt])
    }
  } finally {
    if (device) run(['losetup', '--detach', device])
    run(['rm', '-rf', dir])
  }
}

/** Which of `needles` occur anywhere in a file's bytes (a raw disk: every file system and its free space). */
export async function bytesFound(file: string, needles: string[]): Promise<string[]> {
  const patterns = needles.map(needle => Buffer.from(needle))
  const overlap = Math.max(0, ...patterns.map(pattern => pattern.length - 1))
  const found = new Set<string>()
  let tail = Buffer.alloc(0)
  for await (const chunk of createReadStream(file, {
    highWaterMark: 8 * 1024 * 1024
  }) as AsyncIterable<Buffer>) {
    const window = Buffer.concat([tail, chunk])
    patterns.forEach((pattern, i) => {
      if (window.includes(pattern)) found.add(needles[i] as string)
    })
    tail = window.subarray(window.length - Math.min(overlap, window.length))
  }
  return needles.filter(needle => found.has(needle))
}

/**
 * What a runner's environment holds that no command of ours may see, with random values: OpenStack
 * secrets, the github-token input, the runtime token and GITHUB_TOKEN.
 */
export function secretEnvironment(): Record<string, string> {
  const value = (label: string): string => `${label}-${randomBytes(16).toString('hex')}`
  return {
    OS_PASSWORD: value('os-password'),
    OS_APPLICATION_CREDENTIAL_SECRET: value('os-app-secret'),
    'INPUT_GITHUB-TOKEN': value('ghs-input'),
    ACTIONS_RUNTIME_TOKEN: value('actions-runtime'),
    GITHUB_TOKEN: value('ghp-env')
  }
}

/**
 * A hook script that writes its environment into the image (`env`, and `/proc/self/environ`: what it
 * was started with), as `<prefix>-env` and `<prefix>-environ`.
 */
export function envDumpHook(prefix: string): string {
  return [
    '#!/bin/sh',
    'set -e',
    `/usr/bin/busybox env >${prefix}-env`,
    `/usr/bin/busybox cat /proc/self/environ >${prefix}-environ`,
    ''
  ].join('\n')
}

/** A `/proc/<pid>/environ` dump as variables. */
export function parseEnviron(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\0')
      .filter(Boolean)
      .map(entry => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)])
  )
}

/**
 * What the tools between us and a script add to the environment they pass on: the shells (arch-chroot,
 * pacstrap and the script's sh: PWD, OLDPWD, SHLVL, _), arch-chroot (SHELL=/bin/bash) and pacman
 * (HTTP_USER_AGENT, its own version string).
 */
export const ADDED_BY_TOOLS = ['PWD', 'OLDPWD', 'SHLVL', '_', 'SHELL', 'HTTP_USER_AGENT']

export interface EnvDumps {
  /** The hook's /proc/self/environ, and its `env` output. */
  hook: Record<string, string>
  hookEnv: string
  /** The same from fixture-envdump's install scriptlet. */
  scriptlet: Record<string, string>
  scriptletEnv: string
  /** Which of the needles occur anywhere on the disk. */
  onDisk: string[]
}

/** Read back what envDumpHook (with `hookPrefix`) and fixture-envdump wrote, and scan the disk for `needles`. */
export async function readEnvDumps(image: string, hookPrefix: string, needles: string[]): Promise<EnvDumps> {
  return withImageRoot(image, async (root, { raw }) => {
    const read = (file: string): string => readFileSync(path.join(root, file), 'utf8')
    return {
      hook: parseEnviron(read(`${hookPrefix}-environ`)),
      hookEnv: read(`${hookPrefix}-env`),
      scriptlet: parseEnviron(read('var/lib/fixture-envdump/environ')),
      scriptletEnv: read('var/lib/fixture-envdump/env'),
      onDisk: await bytesFound(raw, needles)
    }
  })
}

/** A directory of shims put first on PATH: each named command fails (or misbehaves) as the script says. */
export function shimDir(dir: string, shims: Record<string, string>): string {
  const shimPath = path.join(dir, 'shims')
  mkdirSync(shimPath, { recursive: true })
  for (const [name, body] of Object.entries(shims)) {
    const real = run(['sh', '-c', `command -v ${name}`]).trim()
    writeFileSync(path.join(shimPath, name), `#!/bin/sh\nREAL=${real}\n${body}\n`, { mode: 0o755 })
  }
  return shimPath
}

export interface FileServer {
  url: string
  requests: string[]
  close(): Promise<void>
}

/**
 * Serve a directory read-only over HTTP on 127.0.0.1 (a mirror), recording each request path. With
 * `bytesPerSecond`, every response shares one link of that speed (a mirror over the internet).
 */
export async function serveDirectory(
  root: string,
  options: { bytesPerSecond?: number } = {}
): Promise<FileServer> {
  const requests: string[] = []
  const link = options.bytesPerSecond ? sharedLink(options.bytesPerSecond) : undefined
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push(urlPath)
    const file = path.join(root, urlPath)
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-length': statSync(file).size })
    const body = createReadStream(file)
    if (link) body.pipe(link()).pipe(res)
    else body.pipe(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
}

/** Streams that pass bytes no faster than `bytesPerSecond` all together: each chunk waits for its turn. */
function sharedLink(bytesPerSecond: number): () => Transform {
  let free = performance.now()
  return () =>
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        const start = Math.max(free, performance.now())
        free = start + (chunk.length / bytesPerSecond) * 1000
        setTimeout(() => done(null, chunk), free - performance.now())
      }
    })
}

/** The stand-in repository (Debian's packages repacked under Arch names, test/standin), built once and shared. */
export function standinRepo(): string {
  const script = path.join(REPO_ROOT, 'test/standin/build-standin.sh')
  const hash = createHash('sha256')
  for (const file of ['build-standin.sh', 'repack.py'])
    hash.update(readFileSync(path.join(REPO_ROOT, 'test/standin', file)))
  const dir = path.join(os.tmpdir(), `arch-image-standin-${hash.digest('hex').slice(0, 12)}`)
  execFileSync(script, [dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  return dir
}
