import { describe, expect, it } from '@jest/globals'
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CACHE_MARKER, preparePackageCacheDir } from '../../src/cache/cache-dir.js'
import type { Context } from '../../src/pipeline/context.js'
import { ProcessExec } from '../../src/pipeline/exec.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'
import { config } from '../../test/support/config.js'

function context(cacheDir: string, owner?: { uid: number; gid: number }): { ctx: Context; log: MemoryLog } {
  const log = new MemoryLog()
  const workDir = tempDir()
  const ctx = {
    config: config({ 'package-cache-dir': cacheDir }, { cwd: workDir }),
    exec: new ProcessExec(log),
    log,
    workDir,
    ...(owner ? { owner } : {})
  } as unknown as Context
  return { ctx, log }
}

const warned = (log: MemoryLog) => log.lines.filter(line => line.startsWith('warning: package-cache-dir'))

describe('the package cache directory', () => {
  it('is ours when this run creates it: marked, and handed to the invoking user', async () => {
    const dir = path.join(tempDir(), 'deep/pkg')
    const { ctx, log } = context(dir, { uid: 4243, gid: 4243 })
    expect(await preparePackageCacheDir(ctx)).toEqual({ dir, ours: true })
    expect(readFileSync(path.join(dir, CACHE_MARKER), 'utf8')).toMatch(/^arch-image created this/)
    expect(statSync(dir).uid).toBe(4243)
    expect(statSync(path.join(dir, CACHE_MARKER)).uid).toBe(4243)
    expect(warned(log)).toEqual([])
    // decided once a run
    expect(ctx.packageCache).toEqual({ dir, ours: true })

    // A later run finds its mark (owned by the user it was handed to, or by root).
    const later = context(dir, { uid: 4243, gid: 4243 })
    expect(await preparePackageCacheDir(later.ctx)).toEqual({ dir, ours: true })
    chownSync(path.join(dir, CACHE_MARKER), 0, 0)
    expect(await preparePackageCacheDir(context(dir, { uid: 4243, gid: 4243 }).ctx)).toEqual({
      dir,
      ours: true
    })
    // Run by someone else (here: root alone), the user's directory is not this run's to take.
    expect(await preparePackageCacheDir(context(dir).ctx)).toEqual({ dir, ours: false })
  })

  it('is not ours when it exists without our mark, or with a mark someone else wrote: a warning says why', async () => {
    const dir = path.join(tempDir(), 'host-pkg')
    mkdirSync(dir)
    const first = context(dir, { uid: 4243, gid: 4243 })
    expect(await preparePackageCacheDir(first.ctx)).toEqual({ dir, ours: false })
    expect(warned(first.log)).toEqual([
      `warning: package-cache-dir: ${dir} was not created by arch-image (no ${CACHE_MARKER} of ours in it): it is used as it is, without handing it to the invoking user (chown -R) and without pruning it before a cache save. Point package-cache-dir at a directory that does not exist yet to let arch-image manage it.`
    ])
    expect(statSync(dir).uid).toBe(0)

    writeFileSync(path.join(dir, CACHE_MARKER), 'planted')
    chownSync(path.join(dir, CACHE_MARKER), 4242, 4242)
    expect(await preparePackageCacheDir(context(dir, { uid: 4243, gid: 4243 }).ctx)).toEqual({
      dir,
      ours: false
    })
    chownSync(path.join(dir, CACHE_MARKER), 0, 0)
    chownSync(dir, 4242, 4242)
    expect(await preparePackageCacheDir(context(dir, { uid: 4243, gid: 4243 }).ctx)).toEqual({
      dir,
      ours: false
    })
  })

  it('refuses a path that is not a directory', async () => {
    const file = path.join(tempDir(), 'pkg')
    writeFileSync(file, '')
    await expect(preparePackageCacheDir(context(file).ctx)).rejects.toThrow(
      `package-cache-dir: ${file} is a regular empty file, not a directory; use a directory`
    )
  })
})
