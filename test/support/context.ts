// A Context for unit tests of stages and the runner: a recording Exec (for the stages and for the
// teardown stack), an in-memory log and a private work directory; config from input values.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { ConfigEnv } from '../../src/config/config.js'
import { config as configOf, type Inputs } from './config.js'
import type { Context } from '../../src/pipeline/context.js'
import { Teardown } from '../../src/pipeline/teardown.js'
import { MemoryLog } from './log.js'
import { tempDir } from './temp-dir.js'
import { RecordingExec } from './exec.js'

export interface TestContext {
  ctx: Context
  exec: RecordingExec
  /** The Exec the teardown stack releases through. */
  teardownExec: RecordingExec
  log: MemoryLog
  dir: string
}

/** A context whose config comes from `inputs` (output-dir defaults to `<dir>/out`). */
export function testContext(
  inputs: Inputs = {},
  overrides: Partial<Context> = {},
  env: Partial<ConfigEnv> = {}
): TestContext {
  const dir = tempDir()
  const workDir = path.join(dir, 'work')
  mkdirSync(workDir)
  const config = configOf({ 'output-dir': path.join(dir, 'out'), ...inputs }, { cwd: dir, ...env })
  const log = new MemoryLog()
  const exec = new RecordingExec()
  const teardownExec = new RecordingExec()
  const ctx: Context = {
    config,
    exec,
    teardown: new Teardown(teardownExec, log),
    log,
    workDir,
    imageName: config.image.name || 'test-image',
    cancelled: false,
    records: [],
    servers: [],
    held: {},
    outputs: [],
    saveCacheState: () => {},
    ...overrides
  }
  return { ctx, exec, teardownExec, log, dir }
}
