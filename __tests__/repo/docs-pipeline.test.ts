// docs/pipeline.md lists every stage of every mode in the order src/stages/index.ts runs them.
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { STAGE_LISTS } from '../../src/stages/index.js'

const doc = readFileSync(new URL('../../docs/pipeline.md', import.meta.url), 'utf8')

/** The first column of the table under `### mode: <mode>`. */
function documentedStages(mode: string): string[] {
  const section = doc.split(`### mode: ${mode}\n`)[1]?.split(/\n#{2,3} /)[0] ?? ''
  return section
    .split('\n')
    .filter(line => line.startsWith('|'))
    .slice(2)
    .map(line => (line.split('|')[1] ?? '').trim())
}

describe('docs/pipeline.md', () => {
  for (const [mode, stages] of Object.entries(STAGE_LISTS)) {
    it(`lists the ${mode} stages in the order they run`, () => {
      expect(documentedStages(mode)).toEqual(stages.map(stage => stage.name))
    })
  }
})
