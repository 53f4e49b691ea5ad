import { describe, expect, it } from '@jest/globals'
import { localeGenLine } from '../../src/stages/system.js'

describe('locale', () => {
  it('needs locale-gen only for locales glibc does not carry built in', () => {
    expect(localeGenLine('C.UTF-8')).toBeUndefined()
    expect(localeGenLine('en_US.UTF-8')).toBe('en_US.UTF-8 UTF-8')
    expect(localeGenLine('de_DE.utf8')).toBe('de_DE.utf8 UTF-8')
  })
})
