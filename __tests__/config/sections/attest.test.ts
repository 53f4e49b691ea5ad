// attest: off by default; on, it needs the runner's OIDC grant and a token, refused before any disk.
import { describe, expect, it } from '@jest/globals'
import { config, problemsOf } from '../../../test/support/config.js'

const granted = {
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.example/token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
  GITHUB_REPOSITORY: 'octo/images'
}

describe('attest', () => {
  it('is off by default and needs nothing then', () => {
    expect(config({}, { environment: {} }).attest.enabled).toBe(false)
  })

  it('is on with the OIDC grant, a token and the repository', () => {
    const c = config({ attest: 'true', 'github-token': 'ghs_x' }, { environment: granted })
    expect(c.attest).toEqual({ enabled: true, token: 'ghs_x' })
  })

  it('without the OIDC grant names both permissions the workflow must give', () => {
    const problems = problemsOf(
      { attest: 'true', 'github-token': 'ghs_x' },
      { environment: { GITHUB_REPOSITORY: 'octo/images' } }
    )
    expect(problems).toEqual([
      'attest: true needs an OIDC token from the runner, and ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: give the job `permissions: id-token: write` (the signing identity) and `attestations: write` (storing it), besides `contents: read` (attest runs in GitHub Actions only)'
    ])
  })

  it('names the one variable that is missing', () => {
    const problems = problemsOf(
      { attest: 'true', 'github-token': 'ghs_x' },
      { environment: { ...granted, ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' } }
    )
    expect(problems[0]).toMatch(
      /and ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set: .*id-token: write.*attestations: write/
    )
  })

  it('refuses an unexpanded token, a value that is not a boolean, and mode cleanup', () => {
    expect(
      problemsOf({ attest: 'true', 'github-token': '${{ github.token }}' }, { environment: granted })
    ).toEqual([
      'github-token: is empty; attest: true stores the attestation with it (needs attestations: write; the default is ${{ github.token }})'
    ])
    expect(problemsOf({ attest: 'yes' }, { environment: granted })).toEqual([
      'attest: "yes" is not accepted; use true or false'
    ])
    expect(
      problemsOf(
        { attest: 'true', mode: 'cleanup', 'pr-number': '7', 'github-token': 'ghs_x' },
        { environment: granted }
      )
    ).toContain('attest: mode: cleanup builds nothing to attest; drop attest or use mode build or publish')
  })
})
