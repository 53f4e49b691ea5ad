import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Context } from '../../src/pipeline/context.js'
import { ProcessExec } from '../../src/pipeline/exec.js'
import { acquireOutputLock, outputLockPath } from '../../src/pipeline/output-lock.js'
import { processStartTime, Teardown } from '../../src/pipeline/teardown.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'
import { config } from '../../test/support/config.js'

function run(outputDir: string): { ctx: Context; log: MemoryLog } {
  const log = new MemoryLog()
  const ctx = {
    config: config({ 'output-dir': outputDir }, { cwd: outputDir }),
    teardown: new Teardown(new ProcessExec(log), log),
    log,
    imageName: 'nightly'
  } as unknown as Context
  return { ctx, log }
}

/** A pid no process has now: a child that has exited. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' })
  return Number(child.stdout.trim())
}

function lockText(holder: Record<string, unknown>): string {
  return `${JSON.stringify({ host: os.hostname(), since: '2026-01-01T00:00:00.000Z', ...holder })}\n`
}

describe('output lock', () => {
  it('is taken with our pid and start time, on the teardown stack, and released only while ours', async () => {
    const dir = tempDir()
    const { ctx } = run(dir)
    const file = acquireOutputLock(ctx)
    expect(file).toBe(path.join(dir, '.nightly.lock'))
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      pid: process.pid,
      startTime: processStartTime(process.pid),
      host: os.hostname()
    })
    expect(readdirSync(dir)).toEqual(['.nightly.lock'])
    expect(ctx.teardown.resources).toEqual([
      { kind: 'lock', path: file, content: readFileSync(file, 'utf8') }
    ])
    await ctx.teardown.releaseAll()
    expect(existsSync(file)).toBe(false)

    // A lock that another run holds by the time ours is released is left alone.
    const again = run(dir)
    acquireOutputLock(again.ctx)
    writeFileSync(file, lockText({ pid: 1, startTime: 'other' }))
    await again.ctx.teardown.releaseAll()
    expect(readFileSync(file, 'utf8')).toBe(lockText({ pid: 1, startTime: 'other' }))
  })

  it('stops a second run naming the first and the lock file, leaving the lock alone', () => {
    const dir = tempDir()
    const first = run(dir)
    const file = acquireOutputLock(first.ctx)
    const held = readFileSync(file, 'utf8')
    const second = run(dir)
    expect(() => acquireOutputLock(second.ctx)).toThrow(
      new RegExp(
        `^another arch-image run \\(pid ${process.pid}, since .*\\) is writing nightly in ${dir} and holds ${file}; wait for it to finish, or use another image-name or output-dir`
      )
    )
    expect(readFileSync(file, 'utf8')).toBe(held)
    expect(second.ctx.teardown.resources).toEqual([])
    expect(readdirSync(dir)).toEqual(['.nightly.lock'])
  })

  it('takes over a lock whose run is gone (pid free, or pid reused by another process), with a warning', () => {
    const dir = tempDir()
    const file = outputLockPath(dir, 'nightly')
    for (const stale of [
      { pid: deadPid(), startTime: '12345' },
      { pid: process.pid, startTime: 'not-our-start-time' }
    ]) {
      writeFileSync(file, lockText(stale))
      const { ctx, log } = run(dir)
      acquireOutputLock(ctx)
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid })
      expect(log.lines).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^warning: ${file} was left by an arch-image run that is gone \\(pid ${stale.pid}, .*taking it over$`
          )
        )
      )
      expect(readdirSync(dir)).toEqual(['.nightly.lock'])
    }
  })

  it('fails closed on a lock it cannot judge: another host, or not ours', () => {
    const dir = tempDir()
    const file = outputLockPath(dir, 'nightly')
    writeFileSync(file, lockText({ pid: deadPid(), startTime: '1', host: 'other-runner' }))
    expect(() => acquireOutputLock(run(dir).ctx)).toThrow(
      /^another arch-image run \(pid \d+ on other-runner, /
    )
    writeFileSync(file, 'garbage')
    expect(() => acquireOutputLock(run(dir).ctx)).toThrow(
      /^another run \(its lock file is not readable as ours\) is writing nightly/
    )
    expect(readFileSync(file, 'utf8')).toBe('garbage')
  })
})
