// A newcomer's first ten minutes: README's terminal build run exactly as written in a fresh copy of
// the repository, the package installed as a command with npm, and the offline demo's flags.
import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT, leaksUnder, scratchDir } from './helpers.js'

const MINUTES = 60_000
const version = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version
// npm from its local cache where it can: the tests need no fresher metadata than the lock file's.
const npmEnv = {
  ...process.env,
  npm_config_prefer_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false'
}

const dirs: string[] = []
function scratch(prefix: string): string {
  const dir = scratchDir(prefix)
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) execFileSync('rm', ['-rf', dir])
})

/** The one code block of README's "Build an image from a terminal" section. */
function readmeTerminalCommand(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const section = readme.split(/^## /m).find(part => part.startsWith('Build an image from a terminal\n'))
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(section ?? '')
  if (!block) throw new Error('README.md: no sh block under "## Build an image from a terminal"')
  return (block[1] as string).trim()
}

/** The tracked files as a clean checkout has them (this working tree's content), and nothing else. */
function copyOfRepository(dir: string): void {
  const files = execFileSync('git', ['-C', REPO_ROOT, 'ls-files', '-z'])
  execFileSync('sh', ['-c', 'tar -C "$1" --null -T - -cf - | tar -C "$2" -xf -', 'sh', REPO_ROOT, dir], {
    input: files
  })
}

function runShell(
  command: string,
  cwd: string
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

describe("README's terminal build", () => {
  it(
    'works as written in a fresh copy of the repository',
    async () => {
      const command = readmeTerminalCommand()
      expect(command.split('\n')).toHaveLength(1)
      const dir = scratch('arch-image-readme-')
      const checkout = path.join(dir, 'arch-image')
      execFileSync('mkdir', [checkout])
      copyOfRepository(checkout)
      expect(existsSync(path.join(checkout, 'node_modules'))).toBe(false)

      const run = await runShell(command, checkout)
      const failure = `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`
      expect([run.code, failure]).toEqual([0, failure])
      const outputs = Object.fromEntries(
        run.stdout
          .split('\n')
          .filter(line => /^[a-z0-9-]+=/.test(line))
          .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
      )
      const images = readdirSync(path.join(checkout, 'out/image')).filter(name => name.endsWith('.qcow2'))
      expect(images).toEqual([expect.stringMatching(/^arch-cloud-\d{8}\.qcow2$/)])
      const image = path.join(checkout, 'out/image', images[0] as string)
      expect(outputs['image-path']).toBe(image)
      expect(outputs['image-format']).toBe('qcow2')
      expect(outputs.sha256).toBe(createHash('sha256').update(readFileSync(image)).digest('hex'))
      expect(Number(outputs['package-count'])).toBeGreaterThan(1)
      const check = spawnSync('qemu-img', ['check', image], { encoding: 'utf8' })
      expect([check.status, check.stdout]).toEqual([0, expect.stringContaining('No errors were found')])
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    },
    15 * MINUTES
  )
})

describe('the npm package', () => {
  it(
    'installs an arch-image command that prints its version and help',
    () => {
      const dir = scratch('arch-image-pack-')
      const packed = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
          cwd: REPO_ROOT,
          env: npmEnv,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe']
        })
      ) as { filename: string; files: { path: string }[] }[]
      const files = packed[0]?.files.map(file => file.path) ?? []
      // The CLI bundle with the release keyring it reads next to itself, and nothing of the sources.
      expect(files).toEqual(expect.arrayContaining(['dist/cli/index.js', 'dist/cli/archlinux-release.gpg']))
      expect(files.filter(file => file.startsWith('src/') || file.startsWith('dist/main/'))).toEqual([])

      const prefix = path.join(dir, 'prefix')
      execFileSync(
        'npm',
        ['install', '--global', '--prefix', prefix, path.join(dir, packed[0]?.filename as string)],
        { env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] }
      )
      const command = path.join(prefix, 'bin/arch-image')
      expect(execFileSync(command, ['--version'], { encoding: 'utf8' })).toBe(`${version}\n`)
      const help = execFileSync(command, ['--help'], { encoding: 'utf8' })
      expect(help).toContain('Usage: arch-image build')
      expect(help).toContain('130  cancelled by SIGINT or SIGTERM')
      const installed = path.join(prefix, 'lib/node_modules/arch-image/dist/cli')
      expect(readdirSync(installed)).toEqual(expect.arrayContaining(['index.js', 'archlinux-release.gpg']))
    },
    5 * MINUTES
  )
})

describe('the offline demo (scripts/demo.sh)', () => {
  it('passes its build flags to arch-image validate, which accepts them without touching anything', () => {
    const dir = scratch('arch-image-demo-')
    const demo = path.join(dir, 'demo')
    const result = spawnSync(path.join(REPO_ROOT, 'scripts/demo.sh'), ['--validate', demo], {
      encoding: 'utf8'
    })
    expect([result.status, result.stderr]).toEqual([0, ''])
    expect(result.stdout).toBe('arch-image: the flags are valid\n')
    expect(existsSync(demo)).toBe(false)
  })

  it('fails --validate when its flags are not accepted', () => {
    // A directory with a space and a newline: the mirror, output and cache flags made from it are refused.
    const result = spawnSync(path.join(REPO_ROOT, 'scripts/demo.sh'), ['--validate', '/tmp/a b\nc'], {
      encoding: 'utf8'
    })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('mirror: "b" is not a URL')
    expect(result.stderr).toContain('output-dir: "/tmp/a b\\nc/out" is not accepted')
  })
})
