import { describe, expect, it } from '@jest/globals'
import type { Context } from '../src/pipeline/context.js'
import { glanceFamily, provenanceProperties } from '../src/stages/glance.js'
import { config } from '../test/support/config.js'

function configFor(pullRequest?: { number: number; headSha: string; action: string }) {
  return config({}, { cwd: '/w', pullRequest })
}

describe('Glance family and provenance', () => {
  it('a build rotates in its image family; a preview only with its own pull request', () => {
    expect(glanceFamily(configFor())).toBe('arch-cloud')
    expect(glanceFamily(configFor({ number: 12, headSha: 'ab'.repeat(20), action: 'opened' }))).toBe(
      'arch-cloud-pr12'
    )
  })

  it('records repository, commit, run, snapshot and the pull request', () => {
    const config = configFor({ number: 12, headSha: 'ab'.repeat(20), action: 'opened' })
    const ctx = { config, snapshotDate: '2026/11/24' } as unknown as Context
    expect(
      provenanceProperties(ctx, {
        GITHUB_REPOSITORY: 'octo/images',
        GITHUB_SHA: 'f'.repeat(40),
        GITHUB_SERVER_URL: 'https://github.example',
        GITHUB_RUN_ID: '99'
      })
    ).toEqual({
      arch_image_repository: 'octo/images',
      arch_image_commit: 'f'.repeat(40),
      arch_image_run_url: 'https://github.example/octo/images/actions/runs/99',
      arch_image_snapshot: '2026/11/24',
      arch_image_pr: '12',
      arch_image_pr_sha: 'ab'.repeat(20)
    })
  })

  it('leaves out what it does not know', () => {
    const ctx = { config: configFor() } as unknown as Context
    expect(provenanceProperties(ctx, {})).toEqual({})
  })
})
