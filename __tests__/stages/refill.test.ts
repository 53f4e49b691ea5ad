// The refill stage's pieces that need no root: pacman's install date rewritten by sed.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { installDateSedScript } from '../../src/stages/refill.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('install date', () => {
  it('is set to the epoch in a desc file, and nothing else is changed', () => {
    const file = path.join(tempDir(), 'desc')
    const desc = '%NAME%\nbase\n\n%BUILDDATE%\n1700000000\n\n%INSTALLDATE%\n1764700123\n\n%SIZE%\n12\n'
    writeFileSync(file, desc)
    execFileSync('sed', ['-i', installDateSedScript(1700000001), '--', file])
    expect(readFileSync(file, 'utf8')).toBe(desc.replace('1764700123', '1700000001'))
  })
})
