// startBuild: whatever the stages acquired is released newest first on success, on failure and on
// cancel; a cancel closes the stages' seam (nothing new starts) while the teardown still runs.
import { describe, expect, it } from '@jest/globals'
import { startBuild } from '../../src/pipeline/build.js'
import type { Stage } from '../../src/pipeline/runner.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'
import { config as configOf } from '../../test/support/config.js'
import { RecordingExec } from '../../test/support/exec.js'

function setup(stages: Stage[]) {
  const dir = tempDir()
  const config = configOf({ 'output-dir': `${dir}/out` }, { cwd: dir })
  const exec = new RecordingExec()
  const teardownExec = new RecordingExec()
  const log = new MemoryLog()
  const run = startBuild({ config, log, exec, teardownExec, tempRoot: dir, stages })
  return { run, exec, teardownExec, log }
}

/** A stage that acquires a loop device and a mount the way disk does: on the stack first. */
const attachStage: Stage = {
  name: 'attach',
  async run(ctx) {
    ctx.teardown.push({ kind: 'loop', backingFile: '/images/a.raw', device: '/dev/loop9' })
    ctx.teardown.push({ kind: 'mount', target: '/mnt/root' })
    await ctx.exec.run(['mount', '/dev/loop9p3', '/mnt/root'], { privileged: true })
  }
}

/** What the teardown stack released, in order (it logs each resource as it releases it). */
function released(log: MemoryLog): string[] {
  return log.lines.filter(line => /^(unmount|detach|remove) /.test(line))
}

describe('startBuild', () => {
  it('releases everything newest first after a successful run, the work dir last', async () => {
    const { run, teardownExec, log } = setup([attachStage])
    await run.done
    expect(released(log)).toEqual([
      'unmount /mnt/root',
      'detach /dev/loop9 (/images/a.raw)',
      `remove ${run.ctx.workDir}`
    ])
    expect(teardownExec.lines.at(-1)).toBe(`rm -rf --one-file-system -- ${run.ctx.workDir}`)
    expect(run.ctx.teardown.resources).toEqual([])
  })

  it('rejects with the failing stage and still releases what was acquired before it', async () => {
    const failing: Stage = {
      name: 'bootstrap',
      async run() {
        throw new Error('pacstrap failed')
      }
    }
    const { run, log } = setup([attachStage, failing])
    await expect(run.done).rejects.toThrow('stage "bootstrap" failed: pacstrap failed')
    expect(released(log)).toEqual([
      'unmount /mnt/root',
      'detach /dev/loop9 (/images/a.raw)',
      `remove ${run.ctx.workDir}`
    ])
    expect(run.ctx.teardown.resources).toEqual([])
    expect(run.ctx.records.map(record => record.result)).toEqual(['ok', 'failed'])
  })

  it('cancel: the stages seam refuses new commands, everything is released, the run fails', async () => {
    let release!: () => void
    const held = new Promise<void>(resolve => (release = resolve))
    const waiting: Stage = {
      name: 'bootstrap',
      async run(ctx) {
        await held
        await ctx.exec.run(['pacstrap', '/mnt/root', 'base'], { privileged: true })
      }
    }
    const { run, exec, log } = setup([attachStage, waiting])
    await new Promise(resolve => setImmediate(resolve))
    await run.cancel('received SIGTERM')
    release()
    await expect(run.done).rejects.toThrow('not running pacstrap: the run was cancelled')
    expect(exec.closed).toBe(true)
    expect(exec.lines).not.toContain('pacstrap /mnt/root base')
    expect(released(log)).toEqual([
      'unmount /mnt/root',
      'detach /dev/loop9 (/images/a.raw)',
      `remove ${run.ctx.workDir}`
    ])
    expect(log.lines).toContain('warning: received SIGTERM: stopping and releasing everything')
  })

  it('warns about the config warnings before the first stage', async () => {
    const { run, log } = setup([])
    await run.done
    expect(run.ctx.records).toEqual([])
    expect(log.lines.filter(line => line.startsWith('warning:'))).toEqual(
      run.ctx.config.warnings.map(warning => `warning: ${warning}`)
    )
  })
})
