import { describe, expect, it } from '@jest/globals'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { walk } from '../../src/stages/overlay.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('overlay', () => {
  it('walks an overlay parents first without following links', () => {
    const dir = tempDir()
    mkdirSync(path.join(dir, 'etc/motd.d'), { recursive: true })
    writeFileSync(path.join(dir, 'etc/motd.d/hello'), 'hi')
    symlinkSync('/etc', path.join(dir, 'link'))
    expect(walk(dir)).toEqual(['etc', 'etc/motd.d', 'etc/motd.d/hello', 'link'])
  })
})
