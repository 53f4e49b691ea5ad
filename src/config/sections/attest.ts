// A signed build attestation for the image (`attest`). It needs two grants of the workflow: an OIDC
// token from the runner (`id-token: write`: the runner then sets ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN)
// to get a Sigstore signing certificate, and `attestations: write` for the token that stores it.
import type { SectionInput } from '../reader.js'
import { parseBool } from '../validate.js'

export interface AttestConfig {
  /** Sign SLSA provenance (and the SPDX SBOM, when written) for the image and store it on GitHub. */
  enabled: boolean
  /** `github-token`: stores the attestation (needs `attestations: write`). */
  token: string
}

export const ATTEST_PERMISSIONS =
  'give the job `permissions: id-token: write` (the signing identity) and `attestations: write` (storing it), besides `contents: read`'

export function parseAttest({ get, problems, env }: SectionInput, mode: string): AttestConfig {
  const enabled = parseBool(problems, 'attest', get('attest'))
  const token = get('github-token')
  if (!enabled) return { enabled, token }
  if (mode === 'cleanup') {
    problems.push('attest: mode: cleanup builds nothing to attest; drop attest or use mode build or publish')
  }
  const environment = env.environment ?? {}
  const missing = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'].filter(
    name => !environment[name]
  )
  if (missing.length > 0) {
    problems.push(
      `attest: true needs an OIDC token from the runner, and ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: ${ATTEST_PERMISSIONS} (attest runs in GitHub Actions only)`
    )
  }
  if (!token || token.includes('${{')) {
    problems.push(
      'github-token: is empty; attest: true stores the attestation with it (needs attestations: write; the default is ${{ github.token }})'
    )
  }
  if (!environment.GITHUB_REPOSITORY) {
    problems.push(
      'attest: true needs GITHUB_REPOSITORY (owner/name), the repository the attestation belongs to'
    )
  }
  return { enabled, token }
}
