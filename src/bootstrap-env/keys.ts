// The OpenPGP keys a bootstrap tarball's signature is checked against: Arch's release signing keys,
// shipped with the action (keys/archlinux-release.gpg, made by scripts/archlinux-release-keyring.sh;
// docs/keys.md says where each key was checked), or the keyring the `bootstrap-keyring` input names.
import { readFileSync, statSync } from 'node:fs'

export interface ReleaseKey {
  fingerprint: string
  description: string
  /**
   * Unix time from which Arch no longer trusts the key (archlinux-keyring lists it as revoked, its
   * master keys withdrew their certification): signatures it made from then on are refused.
   */
  retiredAt?: number
}

/** The keys in the shipped keyring, newest first. */
export const ARCH_RELEASE_KEYS: ReleaseKey[] = [
  {
    fingerprint: '3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C',
    description: 'Pierre Schmitz, ed25519, 2022-10-31 to 2037-10-27: releases since 2022.11'
  },
  {
    fingerprint: '4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC',
    description: 'Pierre Schmitz, rsa2048, 2011-04-10: older releases',
    // 2023-09-16, the date of the master key's revocation of its certification (in the key's own packets).
    retiredAt: 1694858513
  }
]

/** What gpgv checks a signature against, and how messages name it. */
export interface TrustedKeyring {
  /** Binary OpenPGP packets (or a keybox), as gpgv reads them. */
  bytes: Buffer
  name: string
}

/**
 * The shipped keyring. Read through fs, which takes both what `new URL` gives here: a file: URL when
 * running from source, a plain path once ncc has relocated the file next to the bundle (dist/).
 */
export function shippedKeyring(): TrustedKeyring {
  return {
    bytes: readFileSync(new URL('./keys/archlinux-release.gpg', import.meta.url)),
    name: `the shipped Arch Linux release keys (${ARCH_RELEASE_KEYS.map(key => key.fingerprint).join(', ')}; docs/keys.md)`
  }
}

/**
 * The binary form of ASCII-armored OpenPGP blocks (gpgv reads binary keyrings only); undefined when
 * the text holds no armored block (it is binary already).
 */
export function dearmor(text: string): Buffer | undefined {
  const blocks = [...text.matchAll(/-----BEGIN PGP [A-Z ]+-----\r?\n([\s\S]*?)-----END PGP [A-Z ]+-----/g)]
  if (blocks.length === 0) return undefined
  return Buffer.concat(
    blocks.map(block => {
      const body = (block[1] as string).split(/\r?\n/)
      const blank = body.findIndex(line => line.trim() === '')
      const data = body.slice(blank + 1).filter(line => line.trim() && !line.startsWith('='))
      return Buffer.from(data.join(''), 'base64')
    })
  )
}

// OpenPGP packet tags (RFC 4880 4.3).
const PUBLIC_KEY_TAG = 6
const SECRET_KEY_TAG = 5

/** The tag of the first OpenPGP packet in `bytes` (old and new header formats), if it starts with one. */
function firstPacketTag(bytes: Buffer): number | undefined {
  const header = bytes[0]
  if (header === undefined || (header & 0x80) === 0) return undefined
  return header & 0x40 ? header & 0x3f : (header >> 2) & 0x0f
}

/** A GnuPG keybox file (pubring.kbx, trustedkeys.kbx): "KBXf" in its first blob. */
function isKeybox(bytes: Buffer): boolean {
  return bytes.length >= 12 && bytes.subarray(8, 12).toString('latin1') === 'KBXf'
}

/**
 * The keyring file's content as gpgv reads it, or why it is not OpenPGP public key material:
 * binary packets starting with a public key, a keybox, or ASCII armor of a PUBLIC KEY BLOCK.
 */
export function readKeyring(bytes: Buffer): { bytes: Buffer } | { problem: string } {
  if (isKeybox(bytes)) return { bytes }
  const tag = firstPacketTag(bytes)
  if (tag === PUBLIC_KEY_TAG) return { bytes }
  if (tag === SECRET_KEY_TAG) return { problem: 'holds a secret key; give the public key (gpg --export)' }
  if (tag === undefined && bytes.subarray(0, 4096).toString('latin1').includes('-----BEGIN PGP')) {
    const text = bytes.toString('latin1')
    if (!text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
      return { problem: 'is ASCII armor without a PUBLIC KEY BLOCK' }
    }
    const binary = dearmor(text)
    if (!binary || firstPacketTag(binary) !== PUBLIC_KEY_TAG) {
      return { problem: 'holds a PUBLIC KEY BLOCK that does not start with a public key' }
    }
    return { bytes: binary }
  }
  return { problem: 'is not OpenPGP public key material' }
}

/** Why `file` cannot serve as a keyring (the `bootstrap-keyring` input), or undefined when it can. */
export function keyringFileProblem(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'is not a file'
  } catch {
    return 'does not exist'
  }
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
  }
  const read = readKeyring(bytes)
  return 'problem' in read ? read.problem : undefined
}

/** The keyring of the `bootstrap-keyring` input, replacing the shipped one. */
export function userKeyring(file: string): TrustedKeyring {
  const read = readKeyring(readFileSync(file))
  if ('problem' in read) throw new Error(`bootstrap-keyring: ${file} ${read.problem}`)
  return { bytes: read.bytes, name: `the bootstrap-keyring ${file}` }
}
