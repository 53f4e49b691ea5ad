// What GitHub's answers to storing an attestation mean, and where GitHub shows one.
import { describe, expect, it } from '@jest/globals'
import { attestationUrl, explainStoreError } from '../../src/github/attestation.js'

function httpError(status: number, message: string): Error {
  return Object.assign(new Error(message), { status })
}

describe('explainStoreError', () => {
  it('a 403 names attestations: write and the OIDC grant', () => {
    const error = explainStoreError(httpError(403, 'Resource not accessible by integration'), 'octo/images')
    expect(error.message).toMatch(/^attest: GitHub refused to store the attestation in octo\/images \(403\)/)
    expect(error.message).toContain('the token needs `attestations: write`')
    expect(error.message).toContain('id-token: write')
    expect(error.message).toContain('(Resource not accessible by integration)')
  })

  it('401 and 404 say what to check; anything else keeps what GitHub said', () => {
    expect(explainStoreError(httpError(401, 'Bad credentials'), 'o/r').message).toMatch(
      /check `github-token`/
    )
    expect(explainStoreError(httpError(404, 'Not Found'), 'o/r').message).toMatch(/o\/r doesn't exist/)
    expect(explainStoreError(httpError(500, 'boom'), 'o/r').message).toBe(
      'attest: storing the attestation in o/r failed: boom'
    )
  })
})

describe('attestationUrl', () => {
  it('is the repository attestations page, on the workflow server', () => {
    expect(attestationUrl('octo/images', 12, {})).toBe('https://github.com/octo/images/attestations/12')
    expect(attestationUrl('octo/images', 12, { GITHUB_SERVER_URL: 'https://acme.ghe.com/' })).toBe(
      'https://acme.ghe.com/octo/images/attestations/12'
    )
  })
})
