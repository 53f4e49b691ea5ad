// The main entry killed with SIGKILL in the middle of pacstrap (its API mounts up, a gpg-agent
// running in the target, pacman still busy), then the post entry run as the runner runs it: it
// releases everything from the state the main step saved.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  parseFileCommands,
  runAction,
  runPost,
  scratchDir,
  shimDir
} from './helpers.js'

function processesMentioning(text: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
  return out.split('\n').filter(line => line.includes(text) && !line.includes('ps -eo'))
}

async function killDuringPacstrap(dir: string, signal: NodeJS.Signals) {
  const repo = fixtureRepo()
  const marker = path.join(dir, 'pacman-done')
  // pacman finishes its work, then hangs on as if a scriptlet never returned.
  const shims = shimDir(dir, { pacman: `"$REAL" "$@"\ntouch ${marker}\nsleep 600` })
  const options = {
    dir,
    env: { PATH: `${shims}:${process.env.PATH}` },
    inputs: fixtureInputs(repo, dir)
  }
  const run = await runAction({
    ...options,
    onStart: (child: ChildProcess) => {
      void (async () => {
        for (let i = 0; i < 600 && !existsSync(marker); i++) await sleep(100)
        await sleep(300)
        child.kill(signal)
      })()
    }
  })
  return { run, options }
}

describe('main cancelled (SIGTERM) during pacstrap', () => {
  it('stops pacstrap, releases everything itself and fails the step', async () => {
    const dir = scratchDir()
    try {
      const { run } = await killDuringPacstrap(dir, 'SIGTERM')
      expect(run.code).toBe(1)
      expect(run.output).toContain('received SIGTERM: stopping and releasing everything')
      expect(run.output).toContain('::error::cancelled (SIGTERM); everything the build held was released')
      expect(JSON.parse(run.state.teardown ?? 'null')).toEqual([])
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
      expect(processesMentioning(dir)).toEqual([])
      expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
    } finally {
      execFileSync('rm', ['-rf', dir])
    }
  }, 120_000)
})

describe('main killed during pacstrap, then post', () => {
  let dir: string
  let killed: Awaited<ReturnType<typeof runAction>>
  let post: { code: number | null; output: string }
  let beforePost: { loops: string[]; mounts: string[] }
  let resourcesBeforePost: { kind: string }[]

  beforeAll(async () => {
    dir = scratchDir()
    const { run, options } = await killDuringPacstrap(dir, 'SIGKILL')
    killed = run
    beforePost = leaksUnder(dir)
    resourcesBeforePost = JSON.parse(parseFileCommands(killed.files.state).teardown ?? '[]') as {
      kind: string
    }[]
    post = await runPost(options)
  }, 180_000)

  afterAll(() => {
    execFileSync('rm', ['-rf', dir])
  })

  it('was killed with the image mounted, pacstrap mounts up and its resources saved in GITHUB_STATE', () => {
    expect(killed.signal).toBe('SIGKILL')
    expect(beforePost.loops).toHaveLength(1)
    expect(beforePost.mounts.length).toBeGreaterThanOrEqual(5)
    expect(resourcesBeforePost.map(resource => resource.kind)).toEqual([
      'path',
      'lock',
      'path',
      'loop',
      'mount',
      'gpg-agent',
      'process'
    ])
  })

  it('post releases everything: 0 loop devices, 0 mounts, no process left, temp files gone', () => {
    expect(post.output).not.toContain('::error::')
    expect(post.code).toBe(0)
    expect(post.output).toContain('post: releasing 7 resource(s) the main step left')
    expect(post.output).toMatch(/release the output lock .*\/arch-image-out\/\.arch-cloud-\d{8}\.lock\n/)
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(processesMentioning(dir)).toEqual([])
    expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
    expect(readdirSync(path.join(dir, 'workspace/arch-image-out'))).toEqual([])
  })
})
