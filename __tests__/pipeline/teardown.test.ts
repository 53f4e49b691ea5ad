import { describe, expect, it } from '@jest/globals'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ProcessExec } from '../../src/pipeline/exec.js'
import {
  describe as describeResource,
  mountsBelow,
  processStartTime,
  Teardown,
  type Resource
} from '../../src/pipeline/teardown.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'

const scratch = tempDir

describe('teardown stack', () => {
  it('releases newest first and mirrors every change', async () => {
    const dir = scratch()
    const log = new MemoryLog()
    const saved: Resource[][] = []
    const teardown = new Teardown(new ProcessExec(log), log, resources => saved.push(resources))
    const a = path.join(dir, 'a')
    const b = path.join(dir, 'b')
    writeFileSync(a, '')
    writeFileSync(b, '')
    teardown.push({ kind: 'path', path: dir })
    teardown.push({ kind: 'path', path: a })
    teardown.push({ kind: 'path', path: b })
    expect(saved.at(-1)).toHaveLength(3)
    expect(await teardown.releaseAll()).toEqual([])
    const removals = log.lines.filter(line => line.startsWith('remove '))
    expect(removals).toEqual([`remove ${b}`, `remove ${a}`, `remove ${dir}`])
    expect(existsSync(dir)).toBe(false)
    expect(saved.at(-1)).toEqual([])
  })

  it('forgets kept resources and releases one out of order', async () => {
    const dir = scratch()
    const log = new MemoryLog()
    const teardown = new Teardown(new ProcessExec(log), log)
    const keep = path.join(dir, 'keep')
    writeFileSync(keep, 'x')
    const keepId = teardown.push({ kind: 'path', path: keep })
    const dirId = teardown.push({ kind: 'path', path: path.join(dir, 'nothing-here') })
    teardown.forget(keepId)
    await teardown.release(dirId)
    expect(teardown.resources).toEqual([])
    await teardown.releaseAll()
    expect(existsSync(keep)).toBe(true)
  })

  it('releases idempotently what was never acquired', async () => {
    const log = new MemoryLog()
    const teardown = new Teardown(new ProcessExec(log), log)
    const dir = scratch()
    teardown.push({ kind: 'path', path: dir })
    teardown.push({ kind: 'process', pid: process.pid, startTime: 'not-our-start-time' })
    teardown.push({ kind: 'gpg-agent', homedir: path.join(dir, 'no-gnupg') })
    teardown.push({ kind: 'mount', target: path.join(dir, 'not-mounted') })
    teardown.push({ kind: 'loop', backingFile: path.join(dir, 'never-attached.raw') })
    expect(await teardown.releaseAll()).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })

  it('never signals a pid that was reused by another process', async () => {
    const log = new MemoryLog()
    const teardown = new Teardown(new ProcessExec(log), log)
    // Our own pid with a different start time stands for a reused pid: it must survive.
    teardown.push({ kind: 'process', pid: process.pid, startTime: '1' })
    await teardown.releaseAll()
    expect(log.lines.some(line => line.startsWith('$ kill'))).toBe(false)
    expect(processStartTime(process.pid)).toMatch(/^\d+$/)
  })

  it('describes each kind of resource for the log', () => {
    expect(describeResource({ kind: 'loop', backingFile: '/o/x.raw', device: '/dev/loop3' })).toBe(
      'detach /dev/loop3 (/o/x.raw)'
    )
    expect(describeResource({ kind: 'mount', target: '/t/root' })).toBe('unmount /t/root')
  })

  it('finds nothing mounted below a fresh directory', () => {
    expect(mountsBelow(scratch())).toEqual([])
    expect(mountsBelow('/proc')).toContain('/proc')
  })
})
