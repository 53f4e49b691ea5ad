// Input names are typed from the inputs table: a misspelt name is a compile error, not a runtime BUG.
// `tsc --noEmit` (npm run lint) checks the @ts-expect-error lines below: were a misspelt name ever to
// become valid, the unused directive would fail the typecheck.
import { describe, expect, it } from '@jest/globals'
import { INPUTS } from '../../src/config/inputs.js'
import { inputGetter, type InputName } from '../../src/config/reader.js'
import { config, type Inputs } from '../../test/support/config.js'

describe('input names', () => {
  it('are exactly the names of the inputs table', () => {
    const names: InputName[] = INPUTS.map(input => input.name)
    expect(names).toContain('disk-size')
    expect(new Set(names).size).toBe(INPUTS.length)
  })

  it('refuse a misspelt name when compiling, and at run time', () => {
    const get = inputGetter(() => '')
    expect(get('disk-size')).toBe('2G')
    // @ts-expect-error: 'disk-sise' is no input
    expect(() => get('disk-sise')).toThrow('BUG: unknown input disk-sise')
  })

  it('refuse a misspelt input in a test config when compiling', () => {
    // @ts-expect-error: 'disk-sise' is no input
    const misspelt: Inputs = { 'disk-sise': '4G' }
    // Without the type, the misspelt input would silently be ignored: the disk keeps its default size.
    expect(config(misspelt).disk.sizeBytes).toBe(2 * 1024 ** 3)
  })
})
