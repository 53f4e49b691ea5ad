// Runs once after every test file: stops the run's OpenStack harness (test/openstack/harness.ts keeps
// one directory per jest run, named after the workers' parent pid, for the files to share) and removes
// its directory, and removes the run's scratch directory (test/global-setup.js), so a test run leaves
// nothing in the temp dir.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const harness = path.join(import.meta.dirname, 'openstack/harness.sh')

export default function globalTeardown() {
  removeRunDir()
  if (process.env.ARCH_IMAGE_OPENSTACK_DIR) return // a directory given by hand is kept
  // Workers are jest's children; in band, the tests run in jest itself and its parent names the directory.
  for (const pid of new Set([process.pid, process.ppid])) {
    const dir = path.join(os.tmpdir(), `arch-image-openstack-${pid}`)
    if (!existsSync(dir)) continue
    execFileSync('bash', [harness, 'stop', '--force', dir], { stdio: 'ignore' })
    rmSync(dir, { recursive: true, force: true })
  }
}

function removeRunDir() {
  const dir = process.env.ARCH_IMAGE_TEST_RUN_DIR
  if (!dir || process.env.ARCH_IMAGE_TEST_RUN_DIR_MADE !== '1') return
  // --one-file-system: should a killed build have left a mount below it, never delete through it.
  execFileSync('rm', ['-rf', '--one-file-system', dir], { stdio: 'ignore' })
}
