// Scratch directories for a unit test file, removed when the file's tests are done.
import { afterAll } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const made: string[] = []

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-unit-'))
  made.push(dir)
  return dir
}
