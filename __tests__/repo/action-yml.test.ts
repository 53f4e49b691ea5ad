import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { INPUTS, OUTPUTS } from '../../src/config/inputs.js'

interface ActionYml {
  inputs: Record<string, { description: string; default?: string; required?: boolean }>
  outputs: Record<string, { description: string }>
  runs: Record<string, string>
}

const action = YAML.parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as ActionYml

describe('action.yml', () => {
  it('runs the bundled main and post entries on node24, post always', () => {
    expect(action.runs).toEqual({
      using: 'node24',
      main: 'dist/main/index.js',
      post: 'dist/post/index.js',
      'post-if': 'always()'
    })
  })

  it('says which runner node24 needs and what GitHub Enterprise Server must provide', () => {
    const text = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')
    expect(text).toMatch(/^# .*npm run action-yml/)
    expect(text).toContain('actions/runner v2.327.1 or later')
    expect(text).toContain('GitHub Enterprise Server')
    expect(text).toContain('GITHUB_API_URL')
  })

  it('declares exactly the inputs the code reads, with the same defaults and a description', () => {
    expect(Object.keys(action.inputs)).toEqual(INPUTS.map(input => input.name))
    for (const input of INPUTS) {
      expect(action.inputs[input.name]?.default ?? '').toBe(input.default)
      expect(action.inputs[input.name]?.description.length).toBeGreaterThan(10)
      expect(action.inputs[input.name]?.required).toBe(false)
    }
  })

  it('declares exactly the outputs the action writes', () => {
    expect(Object.keys(action.outputs)).toEqual(OUTPUTS.map(output => output.name))
  })
})
