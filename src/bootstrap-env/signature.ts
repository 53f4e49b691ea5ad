// A detached OpenPGP signature checked with gpgv against one keyring, and gpgv's machine-readable
// status lines (`--status-fd`) turned into a verdict. Only `good` lets a file be used; gpgv's exit
// code alone is not enough (it exits 0 for signatures by revoked or expired keys too).
import type { Exec } from '../pipeline/exec.js'
import { ARCH_RELEASE_KEYS, type ReleaseKey } from './keys.js'

export type SignatureVerdict =
  | {
      status: 'good'
      fingerprint: string
      signedAt: number
      /** Set when the key has expired since: the signature was made before that. */
      keyExpiredAt?: number
    }
  | { status: 'bad' }
  | { status: 'unknown-key'; keyId: string }
  | { status: 'revoked'; fingerprint: string }
  | { status: 'expired'; fingerprint: string; signedAt: number; keyExpiredAt?: number }
  | { status: 'retired'; fingerprint: string; signedAt: number; retiredAt: number }
  | { status: 'error'; detail: string }

/** A status-line time: seconds since the epoch, or ISO 8601 basic (`20261128T003040`) with some options. */
function statusTime(field: string | undefined): number | undefined {
  if (field && /^\d+$/.test(field)) return Number(field)
  const iso = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$/.exec(field ?? '')
  if (!iso) return undefined
  const [, y, mo, d, h, mi, s] = iso.map(Number) as number[]
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s) / 1000
}

function day(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10)
}

/** The verdict on one signature: the status lines from its NEWSIG up to the next. */
function signatureVerdict(block: string[][], retired: Map<string, number>): SignatureVerdict {
  const find = (keyword: string) => block.find(fields => fields[0] === keyword)
  if (find('BADSIG')) return { status: 'bad' }
  const errsig = find('ERRSIG')
  if (errsig) {
    // ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> <fpr>; rc 9: no public key.
    if (errsig[6] === '9' || find('NO_PUBKEY'))
      return { status: 'unknown-key', keyId: errsig[7] || errsig[1] || '?' }
    return { status: 'error', detail: `gpgv could not check it (ERRSIG code ${errsig[6] ?? '?'})` }
  }
  // VALIDSIG <fpr> <date> <time> <expire> <version> <reserved> <pkalgo> <hashalgo> <class> <primary fpr>
  const valid = find('VALIDSIG')
  const signedAt = statusTime(valid?.[3])
  if (!valid || signedAt === undefined) return { status: 'error', detail: 'gpgv reported no valid signature' }
  const fingerprint = (valid[10] || valid[1] || '').toUpperCase()
  if (find('REVKEYSIG')) return { status: 'revoked', fingerprint }
  if (find('EXPSIG')) return { status: 'error', detail: 'the signature itself has expired' }
  if (find('EXPKEYSIG')) {
    // KEYEXPIRED <time>: when the key (or the signing subkey) expired; good only if signed before.
    const expiries = block.filter(fields => fields[0] === 'KEYEXPIRED').map(fields => statusTime(fields[1]))
    const known = expiries.filter((time): time is number => time !== undefined)
    const keyExpiredAt = known.length > 0 && known.length === expiries.length ? Math.min(...known) : undefined
    if (keyExpiredAt === undefined || signedAt >= keyExpiredAt) {
      return { status: 'expired', fingerprint, signedAt, keyExpiredAt }
    }
    return checkRetired({ status: 'good', fingerprint, signedAt, keyExpiredAt }, retired)
  }
  if (find('GOODSIG')) return checkRetired({ status: 'good', fingerprint, signedAt }, retired)
  return { status: 'error', detail: 'gpgv reported neither a good nor a bad signature' }
}

function checkRetired(
  verdict: Extract<SignatureVerdict, { status: 'good' }>,
  retired: Map<string, number>
): SignatureVerdict {
  const retiredAt = retired.get(verdict.fingerprint)
  if (retiredAt !== undefined && verdict.signedAt >= retiredAt) {
    return { status: 'retired', fingerprint: verdict.fingerprint, signedAt: verdict.signedAt, retiredAt }
  }
  return verdict
}

/**
 * gpgv's `--status-fd` output as one verdict: every signature in the file must be good (the first
 * that is not decides), and there must be at least one.
 */
export function interpretGpgvStatus(
  status: string,
  keys: ReleaseKey[] = ARCH_RELEASE_KEYS
): SignatureVerdict {
  const retired = new Map(
    keys.flatMap(key => (key.retiredAt === undefined ? [] : [[key.fingerprint, key.retiredAt] as const]))
  )
  const blocks: string[][][] = []
  for (const line of status.split('\n')) {
    if (!line.startsWith('[GNUPG:] ')) continue
    const fields = line.slice(9).trim().split(' ')
    if (fields[0] === 'ERROR' && fields[1] === 'add_keyblock_resource') {
      return { status: 'error', detail: 'gpgv could not read the keyring' }
    }
    if (fields[0] === 'NEWSIG') blocks.push([])
    blocks.at(-1)?.push(fields)
  }
  if (blocks.length === 0) return { status: 'error', detail: 'no OpenPGP signature found in it' }
  const verdicts = blocks.map(block => signatureVerdict(block, retired))
  return verdicts.find(verdict => verdict.status !== 'good') ?? (verdicts[0] as SignatureVerdict)
}

/** Why a verdict refuses the file (for error messages); undefined for a good one. */
export function refusal(verdict: SignatureVerdict, keyringName: string): string | undefined {
  switch (verdict.status) {
    case 'good':
      return undefined
    case 'bad':
      return 'BAD signature: the file (or the signature) is not what the key signed'
    case 'unknown-key':
      return `signed by key ${verdict.keyId}, which is not in ${keyringName}`
    case 'revoked':
      return `signed by key ${verdict.fingerprint}, which has been revoked`
    case 'expired':
      return `signed on ${day(verdict.signedAt)} by key ${verdict.fingerprint}, which expired ${verdict.keyExpiredAt === undefined ? 'at an unknown time' : `on ${day(verdict.keyExpiredAt)}`} (before the signature)`
    case 'retired':
      return `signed on ${day(verdict.signedAt)} by key ${verdict.fingerprint}, which Arch retired on ${day(verdict.retiredAt)}`
    case 'error':
      return verdict.detail
  }
}

/**
 * gpgv on `signature` and `file` with exactly one keyring (`--homedir` an empty directory, so no
 * default keyring joins it). gpgv missing or failing to run is an `error` verdict, never a pass.
 */
export async function verifySignature(options: {
  exec: Exec
  file: string
  signature: string
  keyring: string
  homedir: string
}): Promise<SignatureVerdict> {
  const { exec, file, signature, keyring, homedir } = options
  let result: Awaited<ReturnType<Exec['run']>>
  try {
    result = await exec.run(
      ['gpgv', '--homedir', homedir, '--status-fd', '1', '--keyring', keyring, '--', signature, file],
      { allowFailure: true, quiet: true }
    )
  } catch (error) {
    const message = (error as Error).message
    return {
      status: 'error',
      detail: /command not found/.test(message)
        ? 'gpgv is not installed (Debian/Ubuntu package gpgv, Arch package gnupg)'
        : `gpgv did not run: ${message}`
    }
  }
  const verdict = interpretGpgvStatus(result.stdout)
  if (verdict.status === 'good' && result.code !== 0) {
    return { status: 'error', detail: `gpgv exited with code ${result.code} after a good signature` }
  }
  if (verdict.status === 'error') {
    const stderr = result.stderr.trim().split('\n').slice(-5).join('\n')
    return {
      ...verdict,
      detail: `${verdict.detail} (gpgv exit ${result.code}${stderr ? `: ${stderr}` : ''})`
    }
  }
  return verdict
}
