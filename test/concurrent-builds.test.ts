// Two builds of the same image into the same output directory at once, run as the runner runs the
// action: the second stops at the start naming the first and its lock file, the first finishes with a
// clean image, and nothing is left attached, mounted or half-written. The first build also takes over
// a lock a dead run left, and uses a package directory arch-image did not create: it is neither handed
// over (chown -R) nor pruned. The second one's package directory is created, with our marker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  runAction,
  runPost,
  scratchDir,
  withImageRoot,
  type ActionRun
} from './helpers.js'

const FOREIGN_UID = 4242
const INVOKER_UID = 4243

describe('two builds of one image into one output directory at once', () => {
  let shared: string
  let dirA: string
  let dirB: string
  let outDir: string
  let hostCache: string
  let lock: string
  let a: ActionRun
  let b: ActionRun
  let postA: { code: number | null; output: string }
  let pidA: number | undefined
  let deadPid: number

  beforeAll(async () => {
    const repo = fixtureRepo()
    shared = scratchDir()
    dirA = path.join(shared, 'a')
    dirB = path.join(shared, 'b')
    outDir = path.join(shared, 'out')
    lock = path.join(outDir, '.same.lock')
    for (const dir of [dirA, dirB, outDir]) mkdirSync(dir)

    // A lock left by a run that is gone (its pid exited).
    deadPid = Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim())
    writeFileSync(
      lock,
      JSON.stringify({ pid: deadPid, startTime: '1', host: os.hostname(), since: '2026-01-01T00:00:00.000Z' })
    )

    // A package directory of someone else's: a file of another user and a package no image installs.
    hostCache = path.join(shared, 'host-pkg')
    mkdirSync(hostCache)
    writeFileSync(path.join(hostCache, 'notes.txt'), 'not arch-image’s\n')
    writeFileSync(path.join(hostCache, 'other-0.1-1-any.pkg.tar.zst'), 'x')
    execFileSync('chown', ['-R', `${FOREIGN_UID}:${FOREIGN_UID}`, hostCache])

    // A's hook holds it after bootstrap (its lock taken, its disk on a loop device) until B is done.
    mkdirSync(path.join(dirA, 'workspace'), { recursive: true })
    writeFileSync(
      path.join(dirA, 'workspace/hold.sh'),
      '#!/bin/sh\ni=0\nwhile [ ! -e /var/tmp/release ] && [ $i -lt 600 ]; do busybox sleep 0.2; i=$((i + 1)); done\n',
      { mode: 0o755 }
    )
    const common = { 'image-name': 'same', 'output-dir': outDir }
    const optionsA = {
      dir: dirA,
      // as `sudo arch-image` would run: outputs handed to the invoking user
      env: { SUDO_UID: String(INVOKER_UID), SUDO_GID: String(INVOKER_UID) },
      inputs: {
        ...fixtureInputs(repo, dirA),
        ...common,
        'package-cache-dir': hostCache,
        scripts: 'after-bootstrap: hold.sh'
      }
    }
    const optionsB = { dir: dirB, inputs: { ...fixtureInputs(repo, dirB), ...common } }

    let startedB: Promise<ActionRun> | undefined
    let bDone = false
    /** Let A's hook go on: a file in A's image root (mounted under its RUNNER_TEMP). */
    const release = (): boolean => {
      const tmp = readdirSync(path.join(dirA, 'runner_temp'))
        .map(name => path.join(dirA, 'runner_temp', name, 'root/var/tmp'))
        .find(dir => existsSync(dir))
      if (tmp) writeFileSync(path.join(tmp, 'release'), '')
      return tmp !== undefined
    }
    const runningA = runAction({
      ...optionsA,
      onStart: (child: ChildProcess) => {
        pidA = child.pid
        const poll = setInterval(() => {
          const held = existsSync(lock) ? readFileSync(lock, 'utf8') : ''
          if (!startedB && held.includes(`"pid":${child.pid},`)) {
            startedB = runAction(optionsB)
            void startedB.finally(() => (bDone = true))
          }
          if (bDone && release()) clearInterval(poll)
        }, 50)
        child.on('close', () => clearInterval(poll))
      }
    })
    a = await runningA
    if (!startedB) throw new Error(`B never started; A said:\n${a.output}`)
    b = await startedB
    postA = await runPost(optionsA)
    await runPost(optionsB)
  }, 600_000)

  afterAll(() => {
    if (shared) execFileSync('rm', ['-rf', shared])
  })

  it('stops the second at the start, naming the first run and the lock file', () => {
    expect(b.code).toBe(1)
    const error = /::error::(.*)/.exec(b.output)?.[1]
    expect(error).toMatch(
      new RegExp(
        `^stage "disk" failed: another arch-image run \\(pid ${pidA}, since [0-9T:.-]+Z\\) is writing same in ${outDir} and holds ${lock}; wait for it to finish, or use another image-name or output-dir`
      )
    )
    expect(b.output).not.toContain('losetup --find')
    expect(b.summary).toMatch(/<td>bootstrap<\/td><td>-<\/td><td>not run<\/td>/)
  })

  it('finishes the first with a clean image that reads back, after taking over the dead run’s lock', async () => {
    expect(a.output).not.toContain('::error::')
    expect(a.code).toBe(0)
    expect(a.output).toContain(
      `::warning::${lock} was left by an arch-image run that is gone (pid ${deadPid}, since 2026-01-01T00:00:00.000Z); taking it over`
    )
    const image = a.outputs['image-path'] as string
    expect(image).toBe(path.join(outDir, 'same.qcow2'))
    expect(execFileSync('qemu-img', ['check', image], { encoding: 'utf8' })).toMatch(/No errors were found/)
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: outDir, encoding: 'utf8' })).toBe(
      'same.qcow2: OK\nsame.manifest: OK\nsame.spdx.json: OK\nsame.cdx.json: OK\n'
    )
    await withImageRoot(image, root => {
      expect(readFileSync(path.join(root, 'var/lib/fixture-service/scriptlet-ran'), 'utf8')).toBe(
        'post_install 1.0-1\n'
      )
    })
  }, 120_000)

  it('leaves only the outputs: no lock, no partial file, nothing attached or mounted', () => {
    expect(readdirSync(outDir).sort()).toEqual([
      'SHA256SUMS',
      'same.cdx.json',
      'same.manifest',
      'same.qcow2',
      'same.spdx.json'
    ])
    expect(statSync(path.join(outDir, 'same.qcow2')).uid).toBe(INVOKER_UID)
    for (const dir of [dirA, dirB, outDir]) expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(postA.code).toBe(0)
  })

  it('uses a package directory it did not create without handing it over or pruning it', () => {
    expect(a.output).toContain(
      `::warning::package-cache-dir: ${hostCache} was not created by arch-image (no .arch-image-cache of ours in it): it is used as it is, without handing it to the invoking user (chown -R) and without pruning it`
    )
    expect(postA.output).toContain(
      `package cache: ${hostCache} was not created by arch-image; saved as it is, not pruned`
    )
    const entries = readdirSync(hostCache).sort()
    expect(entries).toContain('notes.txt')
    expect(entries).toContain('other-0.1-1-any.pkg.tar.zst')
    expect(entries).not.toContain('.arch-image-cache')
    const owners = Object.fromEntries(
      [hostCache, ...entries.map(entry => path.join(hostCache, entry))].map(file => [
        path.basename(file),
        statSync(file).uid
      ])
    )
    // What was there stays another user's; what pacman downloaded stays root's (not the invoker's).
    expect(owners).toMatchObject({
      'host-pkg': FOREIGN_UID,
      'notes.txt': FOREIGN_UID,
      'other-0.1-1-any.pkg.tar.zst': FOREIGN_UID
    })
    const downloaded = entries.filter(entry => entry.startsWith('fixture-service-'))
    expect(downloaded).toHaveLength(1)
    expect(owners[downloaded[0] as string]).toBe(0)
  })

  it('creates a package directory of its own with the marker', () => {
    expect(readFileSync(path.join(dirB, 'pkg-cache/.arch-image-cache'), 'utf8')).toMatch(
      /^arch-image created this/
    )
  })
})
