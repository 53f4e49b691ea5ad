import { describe, expect, it } from '@jest/globals'
import { escapeHtml } from '../../src/util/html.js'

describe('escapeHtml', () => {
  it('escapes what would open a tag or an attribute', () => {
    expect(escapeHtml(`<b a="1">&'`)).toBe(`&lt;b a=&quot;1&quot;&gt;&amp;'`)
  })
})
