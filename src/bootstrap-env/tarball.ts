// Arch Linux's bootstrap tarball (root.x86_64/ with pacman, pacstrap and arch-chroot): where a
// release is published, downloading it with @actions/tool-cache, checking it against the checksums
// file published beside it (and its signature when the host holds Arch's keyring) before anything
// reads it, and keeping it in the tool cache keyed by its release date.
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync
} from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tc from '@actions/tool-cache'
import { isRoot, type Exec } from '../pipeline/exec.js'
import type { Log } from '../pipeline/log.js'

export const BOOTSTRAP_TOOL = 'archlinux-bootstrap'
export const BOOTSTRAP_ARCH = 'x86_64'
export const CHECKSUMS_FILE = 'sha256sums.txt'

/** Where pacman-key and Debian's archlinux-keyring keep Arch's keyring, on Arch and on Debian/Ubuntu hosts. */
export const HOST_KEYRINGS = ['/usr/share/pacman/keyrings/archlinux.gpg', '/usr/share/keyrings/archlinux.gpg']

// Releases before 2024.05.01 are gzip-compressed tarballs (archiso v77 switched to zstd).
const FIRST_ZSTD_RELEASE = '2024.05.01'

export interface BootstrapSource {
  /** The release (`YYYY.MM.DD`, the name of its iso/ directory) or `latest` (named by its checksums file). */
  version: string
  url: string
  checksumsUrl: string
  signatureUrl: string
}

/** A release directory name (`YYYY.MM.DD`) for the tool cache: semver without leading zeros (2026.11.1). */
export function toolCacheVersion(release: string): string {
  const match = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(release)
  if (!match) {
    if (/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(release)) return release
    throw new Error(`BUG: ${JSON.stringify(release)} is not a bootstrap release (YYYY.MM.DD)`)
  }
  return `${Number(match[1])}.${Number(match[2])}.${Number(match[3])}`
}

/**
 * The releases worth trying for an Archive snapshot date (`YYYY/MM/DD`): Arch publishes one on the
 * 1st of each month, so that of the snapshot's month, then that of the month before (for a month
 * whose release came late). Both are older than the snapshot, never newer.
 */
export function releasesForDate(date: string): string[] {
  const match = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(date)
  if (!match) throw new Error(`BUG: ${JSON.stringify(date)} is not a snapshot date (YYYY/MM/DD)`)
  const year = Number(match[1])
  const month = Number(match[2])
  const previous = month === 1 ? [year - 1, 12] : [year, month - 1]
  const name = (y: number, m: number) => `${y}.${String(m).padStart(2, '0')}.01`
  return [name(year, month), name(previous[0] as number, previous[1] as number)]
}

/** The tarball's file name in a release directory (the versioned name exists for every release). */
export function tarballName(release: string): string {
  if (release === 'latest') return 'archlinux-bootstrap-x86_64.tar.zst'
  const extension = release >= FIRST_ZSTD_RELEASE ? 'tar.zst' : 'tar.gz'
  return `archlinux-bootstrap-${release}-x86_64.${extension}`
}

/** The mirror's base URL (the part before `/$repo/os/$arch`), or undefined for a server of another shape. */
export function mirrorBase(server: string): string | undefined {
  const match = /^(.*?)\/\$repo\/os\/\$arch\/?$/.exec(server)
  return match?.[1] ? match[1].replace(/\/+$/, '') : undefined
}

/**
 * Where to fetch the tarball from `base` (the Arch Linux Archive, or a mirror's base URL): with a
 * snapshot date the releases of its month and the month before, without one the newest (`iso/latest/`).
 */
export function bootstrapUrls(base: string, date?: string): BootstrapSource[] {
  const root = base.replace(/\/+$/, '')
  const releases = date ? releasesForDate(date) : ['latest']
  return releases.map(version => {
    const dir = `${root}/iso/${version}`
    const url = `${dir}/${tarballName(version)}`
    return { version, url, checksumsUrl: `${dir}/${CHECKSUMS_FILE}`, signatureUrl: `${url}.sig` }
  })
}

/** `<hash>  <name>` lines (sha256sum's format, `*` for binary mode allowed) as name → lower-case hash. */
export function checksumEntries(text: string): Map<string, string> {
  const entries = new Map<string, string>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line)
    if (match) entries.set(match[2] as string, (match[1] as string).toLowerCase())
  }
  return entries
}

/** The sha256 the checksums file gives for `fileName`, or undefined when it lists no such file. */
export function parseChecksums(text: string, fileName: string): string | undefined {
  return checksumEntries(text).get(fileName)
}

/** The release a versionless tarball is: the versioned entry of the checksums file with the same hash. */
export function releaseFromChecksums(text: string, fileName: string): string | undefined {
  const entries = checksumEntries(text)
  const hash = entries.get(fileName)
  if (!hash) return undefined
  for (const [name, other] of entries) {
    const match = /^archlinux-bootstrap-(\d{4}\.\d{2}\.\d{2})-x86_64\.tar\.(zst|gz)$/.exec(name)
    if (match && other === hash) return match[1]
  }
  return undefined
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Nothing is published at this URL (HTTP 404/410, or a missing file:// path). */
export class NotPublishedError extends Error {
  constructor(readonly url: string) {
    super(`${url}: not found`)
    this.name = 'NotPublishedError'
  }
}

export class ChecksumMismatchError extends Error {
  constructor(
    readonly fileName: string,
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
    readonly checksumsUrl: string
  ) {
    super(
      `${fileName} downloaded from ${url} has sha256 ${actual}, but ${checksumsUrl} lists ${expected}: ` +
        'the download was discarded before extraction (a corrupt or tampered file, or a mirror caught mid-sync)'
    )
    this.name = 'ChecksumMismatchError'
  }
}

/**
 * @actions/tool-cache reads RUNNER_TOOL_CACHE and RUNNER_TEMP at each call (v4). Outside Actions
 * (the CLI) they are unset: use /var/cache/arch-image/tools (root) or ~/.cache/arch-image/tools.
 */
export function ensureToolCacheEnv(): { toolCache: string; temp: string } {
  process.env.RUNNER_TOOL_CACHE ||= isRoot()
    ? '/var/cache/arch-image/tools'
    : path.join(os.homedir(), '.cache/arch-image/tools')
  process.env.RUNNER_TEMP ||= os.tmpdir()
  return { toolCache: process.env.RUNNER_TOOL_CACHE, temp: process.env.RUNNER_TEMP }
}

async function download(url: string, dest: string): Promise<void> {
  if (url.startsWith('file://')) {
    const source = fileURLToPath(url)
    if (!existsSync(source)) throw new NotPublishedError(url)
    copyFileSync(source, dest)
    return
  }
  try {
    await tc.downloadTool(url, dest)
  } catch (error) {
    if (error instanceof tc.HTTPError && (error.httpStatusCode === 404 || error.httpStatusCode === 410)) {
      throw new NotPublishedError(url)
    }
    throw new Error(`download of ${url} failed: ${(error as Error).message}`)
  }
}

export type SignatureResult =
  { status: 'good'; fingerprint: string; keyring: string } | { status: 'unchecked'; reason: string }

export interface GpgvVerdict {
  status: 'good' | 'bad' | 'revoked' | 'unknown-key' | 'expired-key' | 'error'
  fingerprint?: string
}

/** Read gpgv's `--status-fd` lines; `revoked` holds the fingerprints Arch's keyring marks revoked. */
export function interpretGpgvStatus(status: string, revoked: Set<string> = new Set()): GpgvVerdict {
  const lines = status.split('\n').filter(line => line.startsWith('[GNUPG:] '))
  const find = (keyword: string) =>
    lines.map(line => line.slice(9).split(' ')).find(fields => fields[0] === keyword)
  if (find('BADSIG')) return { status: 'bad' }
  if (find('REVKEYSIG')) return { status: 'revoked' }
  const valid = find('VALIDSIG')
  if (valid) {
    // VALIDSIG <signing key fpr> <date> <timestamp> <expire> <version> <reserved> <pk algo> <hash algo> <class> <primary fpr>
    const fingerprint = (valid[10] ?? valid[1] ?? '').toUpperCase()
    if (revoked.has(fingerprint) || revoked.has((valid[1] ?? '').toUpperCase())) {
      return { status: 'revoked', fingerprint }
    }
    if (find('EXPKEYSIG')) return { status: 'expired-key', fingerprint }
    if (find('GOODSIG')) return { status: 'good', fingerprint }
  }
  if (find('NO_PUBKEY') || find('ERRSIG')?.[6] === '9') return { status: 'unknown-key' }
  return { status: 'error' }
}

/**
 * The binary form of an ASCII-armored keyring (Debian's archlinux-keyring ships
 * /usr/share/keyrings/archlinux.gpg armored, and gpgv reads binary keyrings only); undefined when
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

/** Keyrings as gpgv can read them: armored ones are written out in binary form under `dir`. */
function gpgvKeyrings(keyrings: string[], dir: string): string[] {
  return keyrings.map((keyring, index) => {
    const head = readFileSync(keyring).subarray(0, 64).toString('latin1')
    if (!head.includes('-----BEGIN PGP')) return keyring
    const binary = dearmor(readFileSync(keyring, 'latin1'))
    if (!binary) return keyring
    const file = path.join(dir, `keyring-${index}.gpg`)
    writeFileSync(file, binary)
    return file
  })
}

function revokedFingerprints(keyring: string): Set<string> {
  const file = keyring.replace(/\.gpg$/, '-revoked')
  if (!existsSync(file)) return new Set()
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .map(line => line.trim().toUpperCase())
      .filter(line => /^[0-9A-F]{16,40}$/.test(line))
  )
}

async function commandExists(exec: Exec, name: string): Promise<boolean> {
  const found = await exec.run(['sh', '-c', 'command -v "$1"', 'sh', name], {
    allowFailure: true,
    quiet: true
  })
  return found.code === 0
}

/**
 * Check the release's detached signature with gpgv against Arch's keyring, when the host has one
 * (pacman's on Arch, Debian's archlinux-keyring package elsewhere). A bad signature, or one by a key
 * Arch revoked, throws; a key the host's keyring does not know (it is older than the release), a
 * missing `.sig` or no keyring at all leave the signature unchecked, said in the log.
 */
export async function checkSignature(options: {
  file: string
  signatureUrl: string
  keyrings: string[]
  exec: Exec
  log: Log
  tempDir: string
}): Promise<SignatureResult> {
  const { file, signatureUrl, exec, log, tempDir } = options
  const keyrings = options.keyrings.filter(keyring => existsSync(keyring))
  const unchecked = (reason: string): SignatureResult => {
    log.info(`signature not checked: ${reason}; the tarball is checked against the published sha256 only`)
    return { status: 'unchecked', reason }
  }
  if (keyrings.length === 0) {
    return unchecked(`no Arch Linux keyring on this host (looked for ${options.keyrings.join(', ')})`)
  }
  if (!(await commandExists(exec, 'gpgv'))) return unchecked('gpgv is not installed')
  const signature = path.join(tempDir, `${path.basename(file)}.sig`)
  try {
    await download(signatureUrl, signature)
  } catch (error) {
    if (error instanceof NotPublishedError) return unchecked(`${signatureUrl} is not published`)
    throw error
  }
  const home = path.join(tempDir, 'gnupg')
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const readable = gpgvKeyrings(keyrings, home)
  const result = await exec.run(
    [
      'gpgv',
      '--homedir',
      home,
      '--status-fd',
      '1',
      ...readable.flatMap(keyring => ['--keyring', keyring]),
      signature,
      file
    ],
    { allowFailure: true, quiet: true }
  )
  const revoked = new Set(keyrings.flatMap(keyring => [...revokedFingerprints(keyring)]))
  const verdict = interpretGpgvStatus(result.stdout, revoked)
  const keyringList = keyrings.join(', ')
  switch (verdict.status) {
    case 'good':
      log.info(`signature ${signatureUrl}: good, by key ${verdict.fingerprint} of ${keyringList}`)
      return { status: 'good', fingerprint: verdict.fingerprint ?? '', keyring: keyringList }
    case 'expired-key':
      log.warning(
        `signature ${signatureUrl}: made by key ${verdict.fingerprint}, expired in ${keyringList} (an old keyring copy?); accepted`
      )
      return { status: 'good', fingerprint: verdict.fingerprint ?? '', keyring: keyringList }
    case 'unknown-key':
      return unchecked(
        `${signatureUrl} is by a key that ${keyringList} does not hold (the keyring may be older)`
      )
    case 'bad':
      throw new Error(
        `${path.basename(file)}: BAD signature ${signatureUrl} (checked with ${keyringList}); not using it`
      )
    case 'revoked':
      throw new Error(
        `${path.basename(file)}: signature ${signatureUrl} is by a revoked key ${verdict.fingerprint ?? ''}; not using it`
      )
    case 'error':
      throw new Error(
        `gpgv could not check ${signatureUrl} (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-600)}`
      )
  }
}

export interface FetchOptions {
  url: string
  checksumsUrl: string
  /** `YYYY.MM.DD` (the release), or `latest`: the checksums file names the release. */
  version: string
  log: Log
  /** Runs gpgv for the signature check. */
  exec: Exec
  /** Default `<url>.sig`. */
  signatureUrl?: string
  /** gpgv keyrings for the signature; default HOST_KEYRINGS (those present). */
  keyrings?: string[]
}

export interface VerifiedTarball {
  /** The tarball in the tool cache. */
  path: string
  /** The release (`YYYY.MM.DD`; a `0.0.0-<hash>` key when the checksums file names none). */
  version: string
  sha256: string
  fromCache: boolean
  signature: SignatureResult | { status: 'checked-when-cached' }
}

// The tool cache entry: the tarball under a fixed name per compression, and one checksum line for it.
const CACHED_NAME = /^archlinux-bootstrap-x86_64\.tar\.(zst|gz)$/

async function lookInCache(
  version: string,
  log: Log,
  expected?: string
): Promise<VerifiedTarball | undefined> {
  const dir = tc.find(BOOTSTRAP_TOOL, toolCacheVersion(version), BOOTSTRAP_ARCH)
  if (!dir) return undefined
  const name = readdirSync(dir).find(entry => CACHED_NAME.test(entry))
  const sums = path.join(dir, CHECKSUMS_FILE)
  const recorded = name && existsSync(sums) ? parseChecksums(readFileSync(sums, 'utf8'), name) : undefined
  if (!name || !recorded) {
    log.warning(`tool cache entry ${dir} is incomplete; downloading again`)
    return undefined
  }
  if (expected && recorded !== expected) {
    log.info(`tool cache holds another build of release ${version} (${recorded}); downloading ${expected}`)
    return undefined
  }
  const file = path.join(dir, name)
  const actual = await sha256File(file)
  if (actual !== recorded) {
    log.warning(`tool cache copy ${file} has sha256 ${actual}, not ${recorded}; downloading again`)
    return undefined
  }
  log.info(`bootstrap tarball ${version} from the tool cache: ${file} (sha256 ${actual})`)
  return {
    path: file,
    version,
    sha256: actual,
    fromCache: true,
    signature: { status: 'checked-when-cached' }
  }
}

/**
 * The verified bootstrap tarball for one release: from the tool cache when it holds it (checked
 * again against the checksum recorded with it; no download), else downloaded, checked against the
 * published sha256 (and the signature, when the host can), and only then put in the tool cache.
 * A mismatch throws ChecksumMismatchError and caches nothing.
 */
export async function fetchVerifiedTarball(options: FetchOptions): Promise<VerifiedTarball> {
  const { url, checksumsUrl, log, exec } = options
  const { temp } = ensureToolCacheEnv()
  let version = options.version
  if (version !== 'latest') {
    const cached = await lookInCache(version, log)
    if (cached) return cached
  }

  mkdirSync(temp, { recursive: true })
  const tempDir = mkdtempSync(path.join(temp, 'arch-image-bootstrap-'))
  try {
    const fileName = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '')
    const sumsFile = path.join(tempDir, CHECKSUMS_FILE)
    await download(checksumsUrl, sumsFile)
    const sumsText = readFileSync(sumsFile, 'utf8')
    const expected = parseChecksums(sumsText, fileName)
    if (!expected) throw new Error(`${checksumsUrl} lists no checksum for ${fileName}; not using ${url}`)

    if (version === 'latest') {
      version = releaseFromChecksums(sumsText, fileName) ?? `0.0.0-${expected.slice(0, 16)}`
      log.info(`${checksumsUrl}: the newest release is ${version}`)
      const cached = await lookInCache(version, log, expected)
      if (cached) return cached
    }

    const downloaded = path.join(tempDir, fileName)
    const started = performance.now()
    log.info(`downloading ${url}`)
    await download(url, downloaded)
    const actual = await sha256File(downloaded)
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    if (actual !== expected) throw new ChecksumMismatchError(fileName, url, expected, actual, checksumsUrl)
    log.info(`${fileName}: sha256 ${actual} matches ${checksumsUrl} (${seconds} s)`)

    const signature = await checkSignature({
      file: downloaded,
      signatureUrl: options.signatureUrl ?? `${url}.sig`,
      keyrings: options.keyrings ?? HOST_KEYRINGS,
      exec,
      log,
      tempDir
    })

    const extension = fileName.endsWith('.tar.gz') ? 'tar.gz' : 'tar.zst'
    const cachedName = `archlinux-bootstrap-x86_64.${extension}`
    const entry = path.join(tempDir, 'entry')
    mkdirSync(entry)
    renameSync(downloaded, path.join(entry, cachedName))
    await writeFile(path.join(entry, CHECKSUMS_FILE), `${actual}  ${cachedName}\n`)
    const dir = await tc.cacheDir(entry, BOOTSTRAP_TOOL, toolCacheVersion(version), BOOTSTRAP_ARCH)
    const file = path.join(dir, cachedName)
    log.info(`bootstrap tarball ${version} kept in the tool cache: ${file}`)
    return { path: file, version, sha256: actual, fromCache: false, signature }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

/**
 * The tarball of the first source that publishes one, in order (a dated release found in the tool
 * cache needs no request at all; `latest` costs one request for its checksums file). A source that
 * publishes nothing (404) is skipped; a checksum or signature failure throws. Fallback sources are
 * consulted only after the preferred one is missing, so the same inputs give the same release
 * whatever the cache holds.
 */
export async function obtainBootstrapTarball(
  sources: BootstrapSource[],
  options: Omit<FetchOptions, 'url' | 'checksumsUrl' | 'version' | 'signatureUrl'>
): Promise<VerifiedTarball> {
  const missing: string[] = []
  for (const source of sources) {
    try {
      return await fetchVerifiedTarball({ ...options, ...source })
    } catch (error) {
      if (!(error instanceof NotPublishedError)) throw error
      options.log.info(`${error.url} is not published; trying the next source`)
      missing.push(error.url)
    }
  }
  throw new Error(`no bootstrap tarball found; tried:\n${missing.map(url => `  ${url}`).join('\n')}`)
}
