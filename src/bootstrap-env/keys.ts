// The OpenPGP keys a bootstrap tarball's signature is checked against: Arch's release signing keys,
// shipped with the action (keys/archlinux-release.gpg, made by scripts/archlinux-release-keyring.sh;
// docs/keys.md says where each key was checked), or the keyring the `bootstrap-keyring` input names.
import { readFileSync } from 'node:fs'
import { readKeyring } from '../openpgp/keyring.js'

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

/** The keyring of the `bootstrap-keyring` input, replacing the shipped one. */
export function userKeyring(file: string): TrustedKeyring {
  const read = readKeyring(readFileSync(file))
  if ('problem' in read) throw new Error(`bootstrap-keyring: ${file} ${read.problem}`)
  return { bytes: read.bytes, name: `the bootstrap-keyring ${file}` }
}
