// One run at a time writes an image's outputs: `<output-dir>/.<image-name>.lock` holds the pid and
// process start time of the run that owns them. A second run fails at once naming the first; a lock
// whose run is gone (a crash, a SIGKILL without the post step) is taken over with a warning.
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Context } from './context.js'
import { processStartTime } from './teardown.js'

interface LockHolder {
  pid: number
  startTime: string
  host: string
  since: string
}

export function outputLockPath(outputDir: string, imageName: string): string {
  return path.join(outputDir, `.${imageName}.lock`)
}

/** A suffix no other run (or earlier run of ours) uses: working files are created with it, exclusively. */
export function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`
}

function readHolder(file: string): { text: string; holder?: LockHolder } | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const holder = JSON.parse(text) as LockHolder
    return Number.isInteger(holder.pid) && typeof holder.startTime === 'string' ? { text, holder } : { text }
  } catch {
    return { text }
  }
}

/** Gone for sure: a run on this machine whose pid is free or now another process. Anything else may live. */
function gone(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return false
  return processStartTime(holder.pid) !== holder.startTime
}

function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'another run (its lock file is not readable as ours)'
  const where = holder.host === os.hostname() ? '' : ` on ${holder.host}`
  return `another arch-image run (pid ${holder.pid}${where}, since ${holder.since})`
}

/** Move a stale lock aside; false when what was moved is not that lock (it was replaced meanwhile). */
function moveStaleAside(file: string, staleText: string): boolean {
  const aside = `${file}.stale-${uniqueSuffix()}`
  try {
    renameSync(file, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true // someone else moved it
    throw error
  }
  const moved = readFileSync(aside, 'utf8')
  if (moved !== staleText) {
    // A live lock took the stale one's place between our read and the rename: put it back.
    try {
      linkSync(aside, file)
    } catch {
      // a newer lock is there already
    }
    unlinkSync(aside)
    return false
  }
  unlinkSync(aside)
  return true
}

/**
 * Take the output lock of this run's image, or fail naming the run that holds it. The lock joins
 * the teardown stack the moment it exists; releasing it removes it only while it is still ours.
 */
export function acquireOutputLock(ctx: Context): string {
  const file = outputLockPath(ctx.config.image.outputDir, ctx.imageName)
  const mine: LockHolder = {
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? '',
    host: os.hostname(),
    since: new Date().toISOString()
  }
  const text = `${JSON.stringify(mine)}\n`
  // Written whole under a name of our own, then linked into place: the lock never exists half-written.
  const staged = path.join(ctx.config.image.outputDir, `.${ctx.imageName}.lock.${uniqueSuffix()}`)
  const stagedId = ctx.teardown.push({ kind: 'path', path: staged })
  writeFileSync(staged, text, { flag: 'wx' })
  try {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        linkSync(staged, file)
        ctx.teardown.push({ kind: 'lock', path: file, content: text })
        return file
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const found = readHolder(file)
      if (!found) continue // released meanwhile
      if (!found.holder || !gone(found.holder)) {
        throw new Error(
          `${describeHolder(found.holder)} is writing ${ctx.imageName} in ${ctx.config.image.outputDir} and holds ${file}; ` +
            'wait for it to finish, or use another image-name or output-dir. If no such run exists any more, remove the lock file.'
        )
      }
      if (moveStaleAside(file, found.text)) {
        ctx.log.warning(
          `${file} was left by an arch-image run that is gone (pid ${found.holder.pid}, since ${found.holder.since}); taking it over`
        )
      }
    }
    throw new Error(`${file}: could not take the output lock (other runs keep taking it); try again`)
  } finally {
    unlinkSync(staged)
    ctx.teardown.forget(stagedId)
  }
}
