// What the test files of one jest run share instead of each making it again: a value made once (by the
// first file that asks) and kept as JSON in the run's scratch directory (test/global-setup.js). A lock
// file says who is making it, so files in parallel workers wait for it instead of making it twice.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The run's scratch directory: made by test/global-setup.js, removed by test/global-teardown.js. */
export function runDir(): string {
  const dir = process.env.ARCH_IMAGE_TEST_RUN_DIR
  if (!dir || !existsSync(dir)) {
    throw new Error(
      'ARCH_IMAGE_TEST_RUN_DIR is not set to a directory: run the root tests through jest (jest.config.js names test/global-setup.js)'
    )
  }
  return dir
}

type Stamp<T> = { ok: true; value: T } | { ok: false; error: string }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * `make(dir)` once per jest run for `key`: the first caller makes it in `<run dir>/<key>/` and stamps
 * the result; later callers (any worker) get the stamped result, waiting up to `waitMinutes` for it.
 * A failure is stamped too, so each later caller fails with it instead of making it again.
 */
export async function oncePerRun<T>(
  key: string,
  waitMinutes: number,
  make: (dir: string) => Promise<T>
): Promise<T> {
  const root = runDir()
  const stamp = path.join(root, `${key}.json`)
  const lock = path.join(root, `${key}.lock`)
  let fd: number | undefined
  try {
    fd = openSync(lock, 'wx')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  if (fd !== undefined) {
    writeFileSync(fd, String(process.pid))
    closeSync(fd)
    let result: Stamp<T>
    try {
      const dir = path.join(root, key)
      mkdirSync(dir, { mode: 0o755 })
      result = { ok: true, value: await make(dir) }
    } catch (error) {
      result = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }
    }
    // Whole or not at all: a reader never sees half a file.
    writeFileSync(`${stamp}.tmp`, JSON.stringify(result))
    renameSync(`${stamp}.tmp`, stamp)
  }
  const deadline = Date.now() + waitMinutes * 60_000
  while (!existsSync(stamp)) {
    const maker = Number(readFileSync(lock, 'utf8'))
    if (maker && !alive(maker)) throw new Error(`${key}: the process making it (pid ${maker}) is gone`)
    if (Date.now() > deadline) throw new Error(`${key}: not made within ${waitMinutes} min (pid ${maker})`)
    await sleep(2000)
  }
  const result = JSON.parse(readFileSync(stamp, 'utf8')) as Stamp<T>
  if (!result.ok) throw new Error(`${key} failed for this run (made once, shared):\n${result.error}`)
  return result.value
}
