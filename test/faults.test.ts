// A failure injected at each stage, and a disk too small for the packages: each run fails with an
// error naming the stage and the cause, and leaves no loop device, mount, partial file or temp dir.
// Failures are injected with shims first on PATH: the action itself has no test-only branches.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { fixtureInputs, fixtureRepo, leaksUnder, runAction, scratchDir, shimDir } from './helpers.js'
import { freePort } from '../src/boot/qemu.js'

let repo: string
const dirs: string[] = []

beforeAll(() => {
  repo = fixtureRepo()
}, 300_000)

afterAll(() => {
  for (const dir of dirs) execFileSync('rm', ['-rf', dir])
})

const failWhen = (pattern: string) =>
  `case " $* " in *"${pattern}"*) echo "injected failure: $(basename "$0") $*" >&2; exit 42;; esac\nexec "$REAL" "$@"`

/** A PATH holding every host command except `missing`, plus an apt-get that cannot install anything. */
function pathWithout(dir: string, missing: string): string {
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  for (const source of ['/usr/sbin', '/usr/bin']) {
    for (const name of readdirSync(source)) {
      if (name !== missing && !existsSync(path.join(bin, name)))
        symlinkSync(path.join(source, name), path.join(bin, name))
    }
  }
  execFileSync('rm', ['-f', path.join(bin, 'apt-get')])
  const shims = shimDir(dir, { 'apt-get': 'echo "E: Unable to locate package (injected)" >&2\nexit 100' })
  return `${shims}:${bin}`
}

interface Fault {
  stage: string
  cause: RegExp
  inputs?: Record<string, string> | (() => Promise<Record<string, string>>)
  shims?: Record<string, string>
  env?: (dir: string) => Record<string, string>
}

const FAULTS: Fault[] = [
  {
    stage: 'host',
    cause:
      /installing missing host tools|apt-get exited with code 100:\nE: Unable to locate package \(injected\)/,
    env: dir => ({ PATH: pathWithout(dir, 'qemu-img') })
  },
  {
    // An Archive that refuses the connection: the error says which URL and why, not just "fetch failed".
    stage: 'resolve',
    cause: /GET http:\/\/127\.0\.0\.1:\d+\/repos\/last\/lastsync: ECONNREFUSED/,
    inputs: async () => ({ snapshot: 'latest', 'archive-url': `http://127.0.0.1:${await freePort()}` })
  },
  {
    stage: 'disk',
    cause: /sfdisk exited with code 42:\ninjected failure: sfdisk/,
    shims: { sfdisk: failWhen('') }
  },
  {
    stage: 'bootstrap',
    cause: /pacstrap exited with code 1:[\s\S]*target not found: no-such-package/,
    inputs: { packages: 'no-such-package' }
  },
  {
    stage: 'fstab',
    cause: /install exited with code 42:\ninjected failure: install/,
    shims: { install: failWhen('etc/fstab') }
  },
  {
    // rm that silently keeps the host keys: the lint must catch what the cleanup missed.
    stage: 'seal',
    cause: /the image is not sealed:\nSSH host keys: \/etc\/ssh\/ssh_host_/,
    shims: { rm: 'case " $* " in *ssh_host_*) exit 0;; esac\nexec "$REAL" "$@"' }
  },
  {
    // umount of the image root says busy five times (every retry of the detach stage), then works
    // for the teardown. pacstrap's own umount calls of its API mounts pass through.
    stage: 'detach',
    cause: /stays mounted: umount: .*target is busy/,
    shims: {
      umount: [
        'case "$#:$1" in 1:*/root) ;; *) exec "$REAL" "$@";; esac',
        'count_file="$(dirname "$0")/umount-count"',
        'count=$(cat "$count_file" 2>/dev/null || echo 0); echo $((count + 1)) > "$count_file"',
        'if [ "$count" -lt 5 ]; then echo "umount: $1: target is busy." >&2; exit 32; fi',
        'exec "$REAL" "$@"'
      ].join('\n')
    }
  },
  {
    stage: 'convert',
    cause: /qemu-img exited with code 42:\ninjected failure: qemu-img check/,
    shims: { 'qemu-img': failWhen(' check ') }
  },
  {
    // Root through sudo: the files are handed to the calling user, and chown fails.
    stage: 'handover',
    cause: /chown exited with code 42:\ninjected failure: chown/,
    shims: { chown: failWhen('arch-image-out') },
    env: () => ({ SUDO_UID: '65534', SUDO_GID: '65534' })
  },
  {
    stage: 'bootstrap',
    cause: /pacstrap exited with code 1:[\s\S]*(too full|No space left on device)/,
    inputs: { 'disk-size': '512M', packages: 'fixture-big' }
  }
]

describe.each(FAULTS)('a failure in $stage', fault => {
  let dir: string
  let run: Awaited<ReturnType<typeof runAction>>

  beforeAll(async () => {
    dir = scratchDir()
    dirs.push(dir)
    const env: Record<string, string> = fault.env?.(dir) ?? {}
    if (fault.shims) env.PATH = `${shimDir(dir, fault.shims)}:${env.PATH ?? process.env.PATH}`
    run = await runAction({
      dir,
      env,
      inputs: {
        ...fixtureInputs(repo, dir),
        ...(typeof fault.inputs === 'function' ? await fault.inputs() : fault.inputs)
      }
    })
  }, 120_000)

  it('fails the step with an error naming the stage and the cause', () => {
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n')
    expect(error).toMatch(new RegExp(`^stage "${fault.stage}" failed: `))
    expect(error).toMatch(fault.cause)
    expect(run.summary).toMatch(new RegExp(`<td>${fault.stage}</td><td>[0-9.]+ s</td><td>failed</td>`))
  })

  it('leaves no loop device, mount, partial output or temp dir, and nothing for the post step', () => {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    const out = path.join(dir, 'workspace/arch-image-out')
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([])
    expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
    expect(JSON.parse(run.state.teardown ?? '[]')).toEqual([])
  })
})
