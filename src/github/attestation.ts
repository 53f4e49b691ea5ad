// Build attestations: an in-toto statement about the image signed with Sigstore by @actions/attest (a
// Fulcio certificate for the workflow's OIDC identity; Rekor, or GitHub's timestamp authority for a
// private repository), then stored in the repository's attestations, where `gh attestation verify`
// finds it. We store it ourselves (the library's store hides the status GitHub answered with) so that a
// missing grant is named. Nothing here is optional: a failure fails the run.
import { attest, attestProvenance, type Attestation, type Subject } from '@actions/attest'
import { ATTEST_PERMISSIONS } from '../config/config.js'
import type { RepositoryClient } from './octokit.js'

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const SPDX_DOCUMENT_V2_3 = 'https://spdx.dev/Document/v2.3'

export interface SignedAttestation {
  predicateType: string
  /** The Sigstore bundle (JSON), as `gh attestation verify --bundle` reads it. */
  bundle: Attestation['bundle']
}

/** Sign SLSA provenance v1 of this workflow run for `subjects` (predicate from the OIDC token's claims). */
export async function signProvenance(subjects: Subject[], token: string): Promise<SignedAttestation> {
  const signed = await signing('provenance', () => attestProvenance({ subjects, token, skipWrite: true }))
  return { predicateType: SLSA_PROVENANCE_V1, bundle: signed.bundle }
}

/** Sign an SPDX 2.3 document as the SBOM of `subjects`. */
export async function signSpdx(
  subjects: Subject[],
  document: object,
  token: string
): Promise<SignedAttestation> {
  const signed = await signing('SBOM', () =>
    attest({ subjects, predicateType: SPDX_DOCUMENT_V2_3, predicate: document, token, skipWrite: true })
  )
  return { predicateType: SPDX_DOCUMENT_V2_3, bundle: signed.bundle }
}

async function signing(what: string, sign: () => Promise<Attestation>): Promise<Attestation> {
  try {
    return await sign()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const hint = /ID token|ACTIONS_ID_TOKEN|no tokens available/i.test(message)
      ? ` (the runner gave no usable OIDC token: ${ATTEST_PERMISSIONS})`
      : ''
    throw new Error(`attest: signing the ${what} attestation failed: ${message}${hint}`)
  }
}

/**
 * Store a signed bundle: `POST /repos/{owner}/{repo}/attestations` with `{ bundle }`, answered 201
 * `{ id }` (GitHub's OpenAPI description, operation repos/create-attestation). Returns the id.
 */
export async function storeAttestation(client: RepositoryClient, signed: SignedAttestation): Promise<number> {
  let response
  try {
    response = await client.octokit.request('POST /repos/{owner}/{repo}/attestations', {
      ...client.where,
      bundle: signed.bundle as never
    })
  } catch (error) {
    throw explainStoreError(error, `${client.where.owner}/${client.where.repo}`)
  }
  const id = (response.data as { id?: unknown }).id
  if (typeof id !== 'number') throw new Error(`attest: GitHub stored the attestation but named no id`)
  return id
}

/** What GitHub's answer to storing an attestation means for the workflow. */
export function explainStoreError(error: unknown, repository: string): Error {
  const status = (error as { status?: unknown }).status
  const said = error instanceof Error ? error.message : String(error)
  if (status === 403) {
    return new Error(
      `attest: GitHub refused to store the attestation in ${repository} (403): the token needs ` +
        `\`attestations: write\`; ${ATTEST_PERMISSIONS}. (${said})`
    )
  }
  if (status === 401) return new Error(`attest: GitHub rejected the token; check \`github-token\`. (${said})`)
  if (status === 404) {
    return new Error(
      `attest: GitHub answered 404: ${repository} doesn't exist or the token can't see it. (${said})`
    )
  }
  return new Error(`attest: storing the attestation in ${repository} failed: ${said}`)
}

/** Where GitHub shows a stored attestation. */
export function attestationUrl(repository: string, id: number, env: NodeJS.ProcessEnv = process.env): string {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  return `${server}/${repository}/attestations/${id}`
}
