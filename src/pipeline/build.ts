// The engine: runs the stages it is given with a context they share, and one teardown at the end
// whatever happened (success, failure, or a signal). Which stages run is decided in stages/index.ts.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Config } from '../config/config.js'
import type { CacheState, Context } from './context.js'
import { ProcessExec, type Exec } from './exec.js'
import type { Log } from './log.js'
import { invokingOwner } from './owner.js'
import { runStages, type Stage } from './runner.js'
import { processStartTime, Teardown, type Resource } from './teardown.js'

export interface BuildOptions {
  config: Config
  log: Log
  /** Where the teardown stack is mirrored (GITHUB_STATE in Actions). */
  persist?: (resources: Resource[]) => void
  /** Where the package cache state goes for the post step. */
  persistCache?: (state: CacheState) => void
  tempRoot?: string
  /** The seams commands run through (tests give recording ones): the stages', and the teardown's own. */
  exec?: Exec
  teardownExec?: Exec
  /** What to run, in order (stages/index.ts decides for a config). */
  stages: Stage[]
}

export interface BuildRun {
  ctx: Context
  /** Resolves when the build and its teardown are done; rejects with the first error. */
  done: Promise<void>
  /** Stop: stops running commands and releases everything. */
  cancel(reason: string): Promise<void>
}

export type ContextOptions = Omit<BuildOptions, 'stages'>

export function createContext(options: ContextOptions): Context {
  const { config, log } = options
  const exec = options.exec ?? new ProcessExec(log)
  // The teardown runs its commands through its own seam: it must still work after the pipeline's is closed.
  const teardown = new Teardown(options.teardownExec ?? new ProcessExec(log), log, options.persist)
  exec.tracker = {
    started: pid => teardown.push({ kind: 'process', pid, startTime: processStartTime(pid) ?? '' }),
    finished: id => teardown.forget(id)
  }
  const workDir = mkdtempSync(path.join(options.tempRoot ?? os.tmpdir(), 'arch-image-'))
  teardown.push({ kind: 'path', path: workDir })
  return {
    config,
    exec,
    teardown,
    log,
    workDir,
    imageName: config.image.name,
    owner: invokingOwner(),
    cancelled: false,
    records: [],
    servers: [],
    held: {},
    outputs: [],
    saveCacheState: state => options.persistCache?.(state)
  }
}

export function startBuild(options: BuildOptions): BuildRun {
  const ctx = createContext(options)
  for (const warning of options.config.warnings) ctx.log.warning(warning)
  const done = (async () => {
    let failure: unknown
    try {
      await runStages(options.stages, ctx)
    } catch (error) {
      failure = error
    }
    const leftovers = await ctx.teardown.releaseAll()
    ctx.openstack?.close()
    for (const target of ctx.openstackTargets ?? []) target.connection.close()
    if (failure) throw failure
    if (leftovers.length > 0) throw new Error(`teardown failed:\n${leftovers.join('\n')}`)
  })()
  return {
    ctx,
    done,
    async cancel(reason) {
      if (ctx.cancelled) return
      ctx.cancelled = true
      ctx.exec.close()
      ctx.log.warning(`${reason}: stopping and releasing everything`)
      await ctx.teardown.releaseAll()
    }
  }
}
