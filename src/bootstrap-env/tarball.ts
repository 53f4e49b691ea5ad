// Arch Linux's bootstrap tarball (root.x86_64/ with pacman and pacstrap): where a release is
// published, downloading it with its signature, checking root-owned copies of both against the
// published sha256 and with gpgv against one keyring before anything reads them, and keeping the
// three in the tool cache keyed by the release date, where every later use checks them again.
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tc from '@actions/tool-cache'
import { isRoot, type Exec } from '../pipeline/exec.js'
import type { VerifiedTarball } from '../pipeline/context.js'
import type { Log } from '../pipeline/log.js'
import type { TrustedKeyring } from './keys.js'
import { refusal, verifySignature, type SignatureVerdict } from './signature.js'

export const BOOTSTRAP_TOOL = 'archlinux-bootstrap'
export const BOOTSTRAP_ARCH = 'x86_64'
export const CHECKSUMS_FILE = 'sha256sums.txt'

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

/** The file, the signature's URL and why the signature does not let the file be used. */
export class SignatureError extends Error {
  constructor(
    readonly fileName: string,
    readonly signatureUrl: string,
    readonly reason: string
  ) {
    super(`${fileName}: signature ${signatureUrl}: ${reason}; not using it`)
    this.name = 'SignatureError'
  }
}

/** A tool cache entry whose tarball no longer verifies: refused, never repaired behind the user's back. */
export class CacheEntryError extends Error {
  constructor(
    readonly dir: string,
    reason: string
  ) {
    super(
      `tool cache entry ${dir} does not verify: ${reason}. It was changed after it was verified and cached ` +
        `(or was verified with another keyring); not using it. Delete ${dir} to download the release again`
    )
    this.name = 'CacheEntryError'
  }
}

/**
 * Where a run verifies tarballs: a directory in its work dir made by root (0755), holding the keyring
 * and, per candidate, copies of the tarball, its signature and its checksum (0644). Only root can
 * change them, so the bytes hashed and checked with gpgv are the bytes later extracted.
 */
export interface VerificationDir {
  dir: string
  keyring: string
  keyringName: string
  /** An empty gpgv home: no default keyring joins ours. */
  homedir: string
  copies: number
}

export async function prepareVerificationDir(
  exec: Exec,
  workDir: string,
  keyring: TrustedKeyring
): Promise<VerificationDir> {
  const made = await exec.run(['mktemp', '-d', '-p', workDir, 'bootstrap-tarball.XXXXXX'], {
    privileged: true,
    quiet: true
  })
  const dir = made.stdout.trim()
  await exec.run(['chmod', '0755', '--', dir], { privileged: true })
  const homedir = path.join(dir, 'gnupg')
  await exec.run(['mkdir', '-m', '0755', '--', homedir], { privileged: true })
  const staged = path.join(workDir, 'staged-keyring.gpg')
  writeFileSync(staged, keyring.bytes)
  const file = path.join(dir, 'keyring.gpg')
  await exec.run(['install', '-m', '0644', '--', staged, file], { privileged: true })
  rmSync(staged)
  return { dir, keyring: file, keyringName: keyring.name, homedir, copies: 0 }
}

/** Root-owned copies of `files` (each copied under its own base name) in a new directory of `vault`. */
async function copyIntoVault(exec: Exec, vault: VerificationDir, files: string[]): Promise<string> {
  const dir = path.join(vault.dir, `copy-${++vault.copies}`)
  await exec.run(['mkdir', '-m', '0755', '--', dir], { privileged: true })
  await exec.run(['install', '-m', '0644', '-t', dir, '--', ...files], { privileged: true, quiet: true })
  return dir
}

export interface FetchOptions {
  url: string
  checksumsUrl: string
  /** `YYYY.MM.DD` (the release), or `latest`: the checksums file names the release. */
  version: string
  /** Default `<url>.sig`. */
  signatureUrl?: string
  log: Log
  /** Runs gpgv and the root-owned copies. */
  exec: Exec
  vault: VerificationDir
}

// The tool cache entry: the tarball under a fixed name per compression, its signature beside it as
// `<name>.sig`, and one checksum line for it. Every use verifies the signature again.
const CACHED_NAME = /^archlinux-bootstrap-x86_64\.tar\.(zst|gz)$/

function cachedNameFor(fileName: string): string {
  return `archlinux-bootstrap-x86_64.${fileName.endsWith('.tar.gz') ? 'tar.gz' : 'tar.zst'}`
}

function signedBy(verdict: SignatureVerdict, vault: VerificationDir): VerifiedTarball['signature'] {
  if (verdict.status !== 'good') throw new Error('BUG: not a good signature')
  const { fingerprint, signedAt, keyExpiredAt } = verdict
  return { fingerprint, signedAt, keyExpiredAt, keyring: vault.keyringName }
}

function describeGood(verdict: VerifiedTarball['signature']): string {
  const made = new Date(verdict.signedAt * 1000).toISOString().slice(0, 10)
  const expired = verdict.keyExpiredAt
    ? `; the key expired on ${new Date(verdict.keyExpiredAt * 1000).toISOString().slice(0, 10)}, after it`
    : ''
  return `good signature by ${verdict.fingerprint}, made ${made}${expired}`
}

async function lookInCache(
  options: FetchOptions,
  version: string,
  expected?: string
): Promise<VerifiedTarball | undefined> {
  const { log, exec, vault } = options
  const dir = tc.find(BOOTSTRAP_TOOL, toolCacheVersion(version), BOOTSTRAP_ARCH)
  if (!dir) return undefined
  const name = readdirSync(dir).find(entry => CACHED_NAME.test(entry))
  const sums = path.join(dir, CHECKSUMS_FILE)
  const complete = name && existsSync(path.join(dir, `${name}.sig`)) && existsSync(sums)
  const recorded = complete ? parseChecksums(readFileSync(sums, 'utf8'), name) : undefined
  if (!name || !recorded) {
    log.warning(
      `tool cache entry ${dir} is incomplete (no tarball, signature or checksum); downloading again`
    )
    return undefined
  }
  if (expected && recorded !== expected) {
    log.info(`tool cache holds another build of release ${version} (${recorded}); downloading ${expected}`)
    return undefined
  }
  const copy = await copyIntoVault(exec, vault, [path.join(dir, name), path.join(dir, `${name}.sig`), sums])
  const file = path.join(copy, name)
  const actual = await sha256File(file)
  if (actual !== recorded) {
    throw new CacheEntryError(
      dir,
      `${name} has sha256 ${actual}, but the checksum kept with it is ${recorded}`
    )
  }
  const verdict = await verifySignature({
    exec,
    file,
    signature: `${file}.sig`,
    keyring: vault.keyring,
    homedir: vault.homedir
  })
  const reason = refusal(verdict, vault.keyringName)
  if (reason) {
    const url = options.signatureUrl ?? `${options.url}.sig`
    throw new CacheEntryError(dir, `${name}: signature ${name}.sig (downloaded from ${url}): ${reason}`)
  }
  const signature = signedBy(verdict, vault)
  log.info(
    `bootstrap tarball ${version} from the tool cache ${dir}: sha256 ${actual}, ${describeGood(signature)}`
  )
  return { path: file, version, sha256: actual, fromCache: true, cacheDir: dir, signature }
}

/**
 * The verified bootstrap tarball for one release: from the tool cache when it holds it (no download;
 * its signature checked again), else downloaded with its signature, checked against the published
 * sha256 and then the signature, and only then put in the tool cache. Either way the checks run on
 * root-owned copies in the verification directory, and the copy is what the caller extracts. A
 * checksum mismatch throws ChecksumMismatchError, a signature that is not good (or not published)
 * SignatureError, a cache entry that no longer verifies CacheEntryError.
 */
export async function fetchVerifiedTarball(options: FetchOptions): Promise<VerifiedTarball> {
  const { url, checksumsUrl, log, exec, vault } = options
  const signatureUrl = options.signatureUrl ?? `${url}.sig`
  const { temp } = ensureToolCacheEnv()
  let version = options.version
  if (version !== 'latest') {
    const cached = await lookInCache(options, version)
    if (cached) return cached
  }

  mkdirSync(temp, { recursive: true })
  const tempDir = mkdtempSync(path.join(temp, 'arch-image-bootstrap-'))
  try {
    const fileName = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '')
    const sumsFile = path.join(tempDir, 'published-sha256sums.txt')
    await download(checksumsUrl, sumsFile)
    const sumsText = readFileSync(sumsFile, 'utf8')
    const expected = parseChecksums(sumsText, fileName)
    if (!expected) throw new Error(`${checksumsUrl} lists no checksum for ${fileName}; not using ${url}`)

    if (version === 'latest') {
      version = releaseFromChecksums(sumsText, fileName) ?? `0.0.0-${expected.slice(0, 16)}`
      log.info(`${checksumsUrl}: the newest release is ${version}`)
      const cached = await lookInCache(options, version, expected)
      if (cached) return cached
    }

    const name = cachedNameFor(fileName)
    const downloaded = path.join(tempDir, name)
    const started = performance.now()
    log.info(`downloading ${url}`)
    await download(url, downloaded)
    try {
      await download(signatureUrl, `${downloaded}.sig`)
    } catch (error) {
      if (!(error instanceof NotPublishedError)) throw error
      throw new SignatureError(
        fileName,
        signatureUrl,
        'not published (a bootstrap tarball is used only with a good signature)'
      )
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    writeFileSync(path.join(tempDir, CHECKSUMS_FILE), `${expected}  ${name}\n`)
    const copy = await copyIntoVault(exec, vault, [
      downloaded,
      `${downloaded}.sig`,
      path.join(tempDir, CHECKSUMS_FILE)
    ])
    const file = path.join(copy, name)
    const actual = await sha256File(file)
    if (actual !== expected) throw new ChecksumMismatchError(fileName, url, expected, actual, checksumsUrl)
    log.info(`${fileName}: sha256 ${actual} matches ${checksumsUrl} (${seconds} s)`)

    const verdict = await verifySignature({
      exec,
      file,
      signature: `${file}.sig`,
      keyring: vault.keyring,
      homedir: vault.homedir
    })
    const reason = refusal(verdict, vault.keyringName)
    if (reason) throw new SignatureError(fileName, signatureUrl, reason)
    const signature = signedBy(verdict, vault)
    log.info(`${fileName}: ${describeGood(signature)} (${vault.keyringName})`)

    const cacheDir = await tc.cacheDir(copy, BOOTSTRAP_TOOL, toolCacheVersion(version), BOOTSTRAP_ARCH)
    log.info(`bootstrap tarball ${version} kept in the tool cache: ${cacheDir}`)
    return { path: file, version, sha256: actual, fromCache: false, cacheDir, signature }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

/**
 * The tarball of the first source that publishes one, in order (a dated release found in the tool
 * cache needs no request at all; `latest` costs one request for its checksums file). A source that
 * publishes nothing (404) is skipped; a checksum or signature failure throws. Fallback sources are
 * consulted only after the preferred one is missing, so the same inputs give the same release
 * whatever the cache holds. The copies are verified in a new verification directory under `workDir`.
 */
export async function obtainBootstrapTarball(
  sources: BootstrapSource[],
  options: { log: Log; exec: Exec; keyring: TrustedKeyring; workDir: string }
): Promise<VerifiedTarball> {
  const { log, exec } = options
  const vault = await prepareVerificationDir(exec, options.workDir, options.keyring)
  const missing: string[] = []
  for (const source of sources) {
    try {
      return await fetchVerifiedTarball({ ...source, log, exec, vault })
    } catch (error) {
      if (!(error instanceof NotPublishedError)) throw error
      log.info(`${error.url} is not published; trying the next source`)
      missing.push(error.url)
    }
  }
  throw new Error(`no bootstrap tarball found; tried:\n${missing.map(url => `  ${url}`).join('\n')}`)
}
