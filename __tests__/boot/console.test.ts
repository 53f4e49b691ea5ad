import { describe, expect, it } from '@jest/globals'
import { consoleText } from '../../src/boot/console.js'

describe('console text', () => {
  it('strips terminal colours from the console', () => {
    expect(consoleText('[\x1b[0;32m  OK  \x1b[0m] Started\r\n')).toBe('[  OK  ] Started\n')
    // GRUB's and OVMF's screen drawing
    expect(consoleText('\x1b[=3h\x1b[?25l\x1b[2J\x1b[01;01H\x1b(B\x1b7GNU GRUB\x1b8\x1b[K')).toBe('GNU GRUB')
  })
})
