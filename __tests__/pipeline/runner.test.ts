// runStages: every stage recorded (ok, failed, skipped, not run), a failure wrapped once in a
// StageError naming its stage, and nothing started once the run is cancelled.
import { describe, expect, it } from '@jest/globals'
import type { Context } from '../../src/pipeline/context.js'
import { runStages, StageError, type Stage } from '../../src/pipeline/runner.js'
import { testContext } from '../../test/support/context.js'

function stage(
  name: string,
  run: (ctx: Context) => Promise<void> = async () => {},
  extra: Partial<Stage> = {}
): Stage {
  return { name, run, ...extra }
}

describe('runStages', () => {
  it('runs the stages in order and records each as ok with its time', async () => {
    const { ctx, log } = testContext()
    const order: string[] = []
    const records = await runStages(
      ['a', 'b', 'c'].map(name => stage(name, async () => void order.push(name))),
      ctx
    )
    expect(order).toEqual(['a', 'b', 'c'])
    expect(records.map(record => [record.name, record.result])).toEqual([
      ['a', 'ok'],
      ['b', 'ok'],
      ['c', 'ok']
    ])
    expect(records.every(record => record.seconds >= 0)).toBe(true)
    expect(ctx.records).toBe(records)
    expect(log.lines).toEqual(expect.arrayContaining(['group: a', 'a: ok in 0.0 s', 'group: c']))
  })

  it('records a stage whose enabled() is false as skipped and does not run it', async () => {
    const { ctx } = testContext()
    let ran = false
    const records = await runStages(
      [stage('a'), stage('off', async () => void (ran = true), { enabled: () => false }), stage('c')],
      ctx
    )
    expect(ran).toBe(false)
    expect(records.map(record => record.result)).toEqual(['ok', 'skipped', 'ok'])
  })

  it('stops at a failing stage: StageError names it, later stages are "not run"', async () => {
    const { ctx } = testContext()
    const failure = runStages(
      [
        stage('a'),
        stage('disk', async () => {
          throw new Error('losetup: no free loop device')
        }),
        stage('c')
      ],
      ctx
    )
    await expect(failure).rejects.toThrow('stage "disk" failed: losetup: no free loop device')
    await expect(failure).rejects.toBeInstanceOf(StageError)
    expect(ctx.records.map(record => record.result)).toEqual(['ok', 'failed', 'not run'])
  })

  it('does not wrap a StageError twice', async () => {
    const { ctx } = testContext()
    const inner = new StageError('inner', new Error('boom'))
    await expect(
      runStages(
        [
          stage('outer', async () => {
            throw inner
          })
        ],
        ctx
      )
    ).rejects.toBe(inner)
  })

  it('starts no stage once the run is cancelled, and fails the one it was about to run', async () => {
    const { ctx } = testContext()
    let ran = false
    const failure = runStages(
      [
        stage('a', async c => {
          c.cancelled = true
        }),
        stage('b', async () => void (ran = true))
      ],
      ctx
    )
    await expect(failure).rejects.toThrow('stage "b" failed: the run was cancelled')
    expect(ran).toBe(false)
    expect(ctx.records.map(record => record.result)).toEqual(['ok', 'failed'])
  })

  it('logs a stage with its own groups as a plain line, not a group', async () => {
    const { ctx, log } = testContext()
    await runStages([stage('boot-test', async () => {}, { ownGroups: true })], ctx)
    expect(log.lines[0]).toBe('== boot-test')
    expect(log.lines).not.toContain('group: boot-test')
  })
})
