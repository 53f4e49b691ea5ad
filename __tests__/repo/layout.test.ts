// Unit tests are named after the module they test: the test of src/<dir>/<name>.ts is
// __tests__/<dir>/<name>.test.ts. Tests of repository files that are not modules (README,
// action.yml, workflows, docs, scripts) live in __tests__/repo/.
import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../..')
const testsDir = path.join(root, '__tests__')

function unitTests(): string[] {
  return readdirSync(testsDir, { recursive: true, encoding: 'utf8' })
    .filter(file => file.endsWith('.test.ts'))
    .map(file => file.split(path.sep).join('/'))
    .sort()
}

describe('__tests__ layout', () => {
  it('finds the unit tests', () => {
    expect(unitTests()).toContain('repo/layout.test.ts')
    expect(unitTests()).toContain('stages/disk.test.ts')
  })

  it('names every unit test outside repo/ after a module in src/', () => {
    const orphans = unitTests()
      .filter(file => !file.startsWith('repo/'))
      .filter(file => !existsSync(path.join(root, 'src', file.replace(/\.test\.ts$/, '.ts'))))
    expect(orphans).toEqual([])
  })
})
