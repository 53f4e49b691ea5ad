// Which packages go into the image and where they come from: mirrors or an Arch Linux Archive
// snapshot, the signature level, whose pacman installs them, and the host's package cache directory.
import path from 'node:path'
import { keyringFileProblem } from '../../openpgp/keyring.js'
import type { SectionInput } from '../reader.js'
import { directoryProblem, fileUrlProblem, oneOf, quote, splitList, validDate } from '../validate.js'

export type Snapshot = { kind: 'none' } | { kind: 'latest' } | { kind: 'date'; date: string }
/** Which pacman runs pacstrap: the host's, the one inside Arch's bootstrap tarball, or decided by the host. */
export const PACMAN_FROM = ['auto', 'host', 'bootstrap'] as const
export type PacmanFrom = (typeof PACMAN_FROM)[number]

export interface PackagesConfig {
  /** `base-packages`. */
  base: string[]
  /** `packages`: installed on top of the base set. */
  extra: string[]
  /** pacman `Server =` lines, each with `$repo` and `$arch`. */
  mirrors: string[]
  snapshot: Snapshot
  archiveUrl: string
  signatureLevel: string
  pacmanFrom: PacmanFrom
  /** The keyring file that replaces the shipped Arch release keys for the bootstrap tarball's signature. */
  bootstrapKeyring?: string
  /** The host directory pacman keeps downloads in (`package-cache-dir`). */
  cacheDir: string
}

const SIG_LEVEL_WORDS = ['Never', 'Optional', 'Required', 'TrustedOnly', 'TrustAll']
const SIG_LEVEL_TOKENS = new Set(SIG_LEVEL_WORDS.flatMap(word => [word, `Package${word}`, `Database${word}`]))

// pacman package names: letters, digits and @._+- ; not starting with a hyphen or dot.
const PACKAGE_NAME = /^([a-z0-9][a-z0-9_-]*\/)?[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/

function packageList({ get, problems }: SectionInput, input: 'base-packages' | 'packages'): string[] {
  const names = splitList(get(input))
  for (const name of names) {
    if (!PACKAGE_NAME.test(name)) {
      problems.push(
        `${input}: ${quote(name)} is not a package name; use names of letters, digits and @._+- (optionally repo/name)`
      )
    }
  }
  return names
}

function parseSnapshot({ get, problems }: SectionInput): Snapshot {
  const text = get('snapshot')
  if (text === 'latest') return { kind: 'latest' }
  if (validDate(text)) return { kind: 'date', date: text }
  if (text !== '') {
    problems.push(
      `snapshot: ${quote(text)} is not accepted; use latest, a date YYYY/MM/DD, or leave it empty`
    )
  }
  return { kind: 'none' }
}

function parseArchiveUrl({ get, problems }: SectionInput): string {
  const url = get('archive-url').replace(/\/+$/, '')
  if (!/^(https?|file):\/\/\S+$/.test(url)) {
    problems.push(`archive-url: ${quote(url)} is not accepted; use an http://, https:// or file:// URL`)
  } else {
    const local = fileUrlProblem('archive-url', url)
    if (local) problems.push(local)
  }
  return url
}

function mirrorServer(problems: string[], url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url.replace(/\$(repo|arch)/g, 'x'))
  } catch {
    problems.push(`mirror: ${quote(url)} is not a URL; use http://, https:// or file:// URLs`)
    return url
  }
  if (!['http:', 'https:', 'file:'].includes(parsed.protocol)) {
    problems.push(`mirror: ${quote(url)} has scheme ${parsed.protocol}; use http://, https:// or file://`)
  }
  const local = fileUrlProblem('mirror', url)
  if (local) problems.push(local)
  return url.includes('$repo') ? url : `${url.replace(/\/+$/, '')}/$repo/os/$arch`
}

function parseSignatureLevel({ get, problems, warnings }: SectionInput): string {
  const level = get('signature-level').split(/\s+/).join(' ')
  for (const token of level.split(' ')) {
    if (!SIG_LEVEL_TOKENS.has(token)) {
      problems.push(
        `signature-level: ${quote(token)} is not a pacman SigLevel; use words of ${SIG_LEVEL_WORDS.join(', ')}, optionally prefixed with Package or Database`
      )
    }
  }
  if (/(^| )Never( |$)/.test(level)) {
    warnings.push(
      'signature-level Never: packages are installed without checking signatures (fine for a local repository only)'
    )
  }
  return level
}

function parseCacheDir({ get, problems, env }: SectionInput): string {
  const text = get('package-cache-dir')
  const dir = text
    ? path.resolve(env.cwd, text)
    : env.runnerTemp
      ? path.join(env.runnerTemp, 'arch-image-pkg')
      : '/var/cache/arch-image/pkg'
  const problem = directoryProblem('package-cache-dir', dir)
  if (problem) problems.push(problem)
  // pacman.conf's `CacheDir =` line splits on whitespace: a path with a space would be two directories.
  if (/\s/.test(dir)) {
    problems.push(
      `package-cache-dir: ${quote(dir)} contains whitespace, which pacman.conf's CacheDir splits on; use a path without spaces`
    )
  }
  return dir
}

function parseBootstrapKeyring(input: SectionInput, pacmanFrom: PacmanFrom): string | undefined {
  const text = input.get('bootstrap-keyring')
  if (!text) return undefined
  const file = path.resolve(input.env.cwd, text)
  const problem = keyringFileProblem(file)
  if (problem) {
    input.problems.push(
      `bootstrap-keyring: ${quote(text)} ${problem}; use a file of OpenPGP public keys, binary or ASCII-armored (gpg --export [--armor] KEY)`
    )
  }
  if (pacmanFrom === 'host') {
    input.warnings.push(
      'bootstrap-keyring: not used with pacman-from host (it checks the bootstrap tarball only)'
    )
  }
  return file
}

export function parsePackages(input: SectionInput): PackagesConfig {
  const base = packageList(input, 'base-packages')
  if (base.length === 0) input.problems.push('base-packages: is empty; name at least one package (e.g. base)')
  const extra = packageList(input, 'packages')
  const snapshot = parseSnapshot(input)
  const archiveUrl = parseArchiveUrl(input)
  const mirrors = splitList(input.get('mirror')).map(url => mirrorServer(input.problems, url))
  const signatureLevel = parseSignatureLevel(input)
  const pacmanFrom = oneOf<PacmanFrom>(input.problems, 'pacman-from', input.get('pacman-from'), PACMAN_FROM)
  const bootstrapKeyring = parseBootstrapKeyring(input, pacmanFrom)
  const cacheDir = parseCacheDir(input)
  return {
    base,
    extra,
    mirrors,
    snapshot,
    archiveUrl,
    signatureLevel,
    pacmanFrom,
    bootstrapKeyring,
    cacheDir
  }
}
