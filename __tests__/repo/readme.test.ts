// README.md's inputs/outputs reference against the INPUTS/OUTPUTS tables and action.yml, and the
// example pipelines in docs/examples against action.yml (actionlint can't check a remote action's
// inputs and outputs).
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import YAML from 'yaml'
import { INPUTS, OUTPUTS } from '../../src/config/inputs.js'
import { cell, REFERENCE_END, REFERENCE_START } from '../../src/config/reference.js'

const root = path.resolve(import.meta.dirname, '../..')
const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
const action = YAML.parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>
  outputs: Record<string, unknown>
}

/** The rows of the Markdown table under `heading` inside the reference block, as trimmed cells. */
function tableRows(heading: string): string[][] {
  const block = readme.slice(readme.indexOf(REFERENCE_START), readme.indexOf(REFERENCE_END))
  const section = block.split(/^### /m).find(part => part.startsWith(`${heading}\n`)) ?? ''
  return section
    .split('\n')
    .filter(line => line.startsWith('|'))
    .slice(2)
    .map(line =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map(c => c.trim())
    )
}

const unquote = (text: string): string => text.replace(/^`(.*)`$/, '$1')

describe('README reference', () => {
  it('has the generated block (npm run readme)', () => {
    expect(readme).toContain(REFERENCE_START)
    expect(readme.indexOf(REFERENCE_END)).toBeGreaterThan(readme.indexOf(REFERENCE_START))
  })

  it('lists every input of INPUTS and action.yml, in order, with the same default and description', () => {
    const rows = tableRows('Inputs')
    const names = rows.map(row => unquote(row[0] ?? ''))
    expect(names).toEqual(INPUTS.map(input => input.name))
    expect(names).toEqual(Object.keys(action.inputs))
    for (const [index, input] of INPUTS.entries()) {
      const [, shownDefault, description] = rows[index] as string[]
      expect([input.name, unquote(shownDefault ?? '')]).toEqual([input.name, cell(input.default)])
      expect([input.name, unquote(shownDefault ?? '')]).toEqual([
        input.name,
        cell(action.inputs[input.name]?.default ?? '')
      ])
      expect([input.name, description]).toEqual([input.name, cell(input.description)])
    }
  })

  it('lists every output of OUTPUTS and action.yml, in order, with the same description', () => {
    const rows = tableRows('Outputs')
    expect(rows.map(row => unquote(row[0] ?? ''))).toEqual(OUTPUTS.map(output => output.name))
    expect(rows.map(row => unquote(row[0] ?? ''))).toEqual(Object.keys(action.outputs))
    expect(rows.map(row => row[1])).toEqual(OUTPUTS.map(output => cell(output.description)))
  })
})

const examples = readdirSync(path.join(root, 'docs/examples')).filter(name => name.endsWith('.yml'))

describe('example pipelines', () => {
  it('exist', () => {
    expect(examples.sort()).toEqual(['nightly.yml', 'pr-preview.yml'])
  })

  it.each(examples)('%s passes arch-image only declared inputs and reads only declared outputs', name => {
    const text = readFileSync(path.join(root, 'docs/examples', name), 'utf8')
    const workflow = YAML.parse(text) as {
      jobs: Record<string, { steps: { id?: string; uses?: string; with?: Record<string, unknown> }[] }>
    }
    const ours = Object.values(workflow.jobs)
      .flatMap(job => job.steps)
      .filter(step => /^<owner>\/arch-image@v1$/.test(step.uses ?? ''))
    expect(ours.length).toBeGreaterThan(0)
    const passed = ours.flatMap(step => Object.keys(step.with ?? {}))
    expect(passed.filter(input => !(input in action.inputs))).toEqual([])
    const ids = ours.map(step => step.id).filter(Boolean)
    const read = [...text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)]
      .filter(match => ids.includes(match[1]))
      .map(match => match[2] as string)
    expect(read.filter(output => !(output in action.outputs))).toEqual([])
  })
})
