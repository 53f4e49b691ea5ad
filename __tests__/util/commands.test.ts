import { describe, expect, it } from '@jest/globals'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { findCommand } from '../../src/util/commands.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('findCommand', () => {
  it('finds an executable on the search path, first directory first, and nothing else', () => {
    const [a, b] = [tempDir(), tempDir()]
    for (const dir of [a, b]) {
      writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n')
      chmodSync(path.join(dir, 'tool'), 0o755)
    }
    writeFileSync(path.join(a, 'plain'), 'not executable')
    expect(findCommand('tool', `${a}:${b}`)).toBe(path.join(a, 'tool'))
    expect(findCommand('plain', `${a}:${b}`)).toBeUndefined()
    expect(findCommand('missing', `${a}:${b}`)).toBeUndefined()
  })
})
