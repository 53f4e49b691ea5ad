// OpenPGP keyring files as gpgv reads them (binary packets or a keybox), told apart from what
// people hand in by mistake (armor of a signature, a secret key, text) without running gpg.
import { readFileSync, statSync } from 'node:fs'

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
