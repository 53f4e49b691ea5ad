// Runs once before the integration tests: a scratch directory for this jest run, where test files
// share what is expensive to make (test/run-cache.ts: the stand-in cloud image and its boots). Workers
// inherit the variable; test/global-teardown.js removes the directory.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export default function globalSetup() {
  if (process.env.ARCH_IMAGE_TEST_RUN_DIR) return // a directory given by hand is used and kept
  process.env.ARCH_IMAGE_TEST_RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'arch-image-run-'))
  process.env.ARCH_IMAGE_TEST_RUN_DIR_MADE = '1'
}
