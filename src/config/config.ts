import { statSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { keyringFileProblem } from '../openpgp/keyring.js'
import type { OpenStackSettings } from '../openstack/config.js'
import { buildGlanceConfig, type GlanceConfig } from './glance-config.js'
import { INPUTS } from './inputs.js'
import { selfContainedProblem } from './qcow2-header.js'

export type Filesystem = 'ext4' | 'btrfs'
export type ImageFormat = 'qcow2' | 'raw'
export type Compression = 'zlib' | 'zstd' | 'none'
export type Snapshot = { kind: 'none' } | { kind: 'latest' } | { kind: 'date'; date: string }
export type Kernel = 'linux' | 'linux-lts'
export type BootMode = 'hybrid' | 'bios' | 'uefi'
/** Which pacman runs pacstrap: the host's, the one inside Arch's bootstrap tarball, or decided by the host. */
export const PACMAN_FROM = ['auto', 'host', 'bootstrap'] as const
export type PacmanFrom = (typeof PACMAN_FROM)[number]
export const HOOK_POINTS = ['after-bootstrap', 'after-configure', 'before-seal'] as const
export type HookPoint = (typeof HOOK_POINTS)[number]

export interface HookScript {
  point: HookPoint
  path: string
}

export interface Config {
  mode: 'build' | 'cleanup' | 'publish'
  /** `mode: publish`: the existing image file to publish. */
  imagePath?: string
  /** Publish to Glance (the `glance` input, and credentials). */
  glance?: GlanceConfig
  /** Empty: `<image-family>-<date>`, decided once the snapshot is resolved. */
  imageName: string
  imageFamily: string
  diskSizeBytes: number
  filesystem: Filesystem
  format: ImageFormat
  compression: Compression
  basePackages: string[]
  packages: string[]
  /** pacman `Server =` lines, each with `$repo` and `$arch`. */
  mirrors: string[]
  snapshot: Snapshot
  archiveUrl: string
  signatureLevel: string
  outputDir: string
  packageCacheDir: string
  architecture: 'x86_64'
  /** The cloud-image configuration stages run (false: a bare, sealed pacstrap). */
  configure: boolean
  kernel: Kernel
  bootMode: BootMode
  /** Appended to the kernel command line. */
  kernelCmdline: string
  predictableNicNames: boolean
  datasources: string[]
  user: string
  userGroups: string[]
  servicesEnable: string[]
  servicesDisable: string[]
  locale: string
  timezone: string
  hostname: string
  keymap: string
  /** A directory copied over the image root. */
  filesDir?: string
  scripts: HookScript[]
  release?: ReleaseConfig
  pacmanFrom: PacmanFrom
  /** The keyring file that replaces the shipped Arch release keys for the bootstrap tarball's signature. */
  bootstrapKeyring?: string
  /** Restore and save the package cache with @actions/cache. */
  cache: boolean
  /** Boot the finished image in QEMU and check it before publishing (the boot-test stage). */
  bootTest: BootTestConfig
  /** A build for a pull request (a pull_request/pull_request_target event): a preview, kept private. */
  preview?: Preview
  /** `mode: cleanup`: the pull request whose previews are deleted. */
  cleanup?: { pr: number }
  /** Post or update one comment on the preview's pull request (only with `preview`). */
  comment: boolean
  /** Where the manifest to diff against comes from. */
  previousManifest?: { kind: 'path'; path: string } | { kind: 'release' }
  /** Token for GitHub calls other than the release (cleanup, comment, previous manifest). */
  githubToken: string
  warnings: string[]
}

/** The pull request a run is about (github/event.ts reads it from the runner's event payload). */
export interface PullRequestEvent {
  number: number
  /** The PR head's commit (not GITHUB_SHA, which is the merge commit on pull_request events). */
  headSha: string
  /** `opened`, `synchronize`, `closed`, ... */
  action: string
}

export interface Preview {
  pr: number
  /** Full sha of the PR head commit. */
  sha: string
}

/** Every release tag `<family>-pr<N>` or `<family>-pr<N>-…` belongs to pull request N's previews. */
export function previewTagPrefix(family: string, pr: number): string {
  return `${family}-pr${pr}`
}

export function isPreviewTag(tag: string, family: string, pr: number): boolean {
  const prefix = previewTagPrefix(family, pr)
  return tag === prefix || tag.startsWith(`${prefix}-`)
}

export type Firmware = 'bios' | 'uefi'

export interface BootTestConfig {
  enabled: boolean
  /** In boot order. */
  firmware: Firmware[]
  /** Per boot, from power-on to the last check. */
  timeoutSeconds: number
  /** Shell commands run in the guest (`sh -e`); empty for none. */
  script: string
}

export interface ReleaseConfig {
  tag: string
  name: string
  draft: boolean
  prerelease: boolean
  makeLatest?: 'true' | 'false' | 'legacy'
  token: string
}

/** Every bad input of one run, reported together. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid input:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

export type InputReader = (name: string) => string

export interface ConfigEnv {
  cwd: string
  runnerTemp?: string
  /** The pull request of the triggering event, if it is one. */
  pullRequest?: PullRequestEvent
  /** The process environment (OS_* variables for Glance). */
  environment?: Record<string, string | undefined>
  /** Masks a secret in every log from now on (core.setSecret). */
  mask?: (secret: string) => void
}

const MiB = 1024 * 1024
export const MIN_DISK_BYTES = 512 * MiB
const MAX_DISK_BYTES = 2 * 1024 * 1024 * MiB

const SIG_LEVEL_WORDS = ['Never', 'Optional', 'Required', 'TrustedOnly', 'TrustAll']
const SIG_LEVEL_TOKENS = new Set(SIG_LEVEL_WORDS.flatMap(word => [word, `Package${word}`, `Database${word}`]))

// pacman package names: letters, digits and @._+- ; not starting with a hyphen or dot.
const PACKAGE_NAME = /^([a-z0-9][a-z0-9_-]*\/)?[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/
const LOCALE = /^[A-Za-z0-9_.@-]+$/
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const KEYMAP = /^[A-Za-z0-9_.-]+$/
// Written into /etc/default/grub, which is sourced by a shell inside double quotes.
const CMDLINE = /^[A-Za-z0-9 _.,:=+/@%-]*$/

export const DATASOURCES = [
  'Akamai',
  'AliYun',
  'Azure',
  'CloudCIX',
  'CloudSigma',
  'CloudStack',
  'ConfigDrive',
  'DigitalOcean',
  'E24Cloud',
  'Ec2',
  'Exoscale',
  'GCE',
  'Hetzner',
  'IBMCloud',
  'LXD',
  'MAAS',
  'NoCloud',
  'NWCS',
  'OpenNebula',
  'OpenStack',
  'Oracle',
  'OVF',
  'RbxCloud',
  'Scaleway',
  'SmartOS',
  'UpCloud',
  'VMware',
  'Vultr',
  'WSL',
  'None'
]

// No '+': GitHub renames it in release asset names, and a query string written by hand (curl
// '...?name=a+b') reads it as a space, so Glance lists nothing (measured). No ':' either: Glance reads
// `name=in:...` as an operator.
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const FAMILY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** Why an image name or family is refused, or undefined. */
function nameProblem(input: string, value: string, pattern: RegExp, max: number): string | undefined {
  if (pattern.test(value)) return undefined
  const plus = value.includes('+')
    ? "; not '+': GitHub renames it in release asset names and a hand-written Glance query reads it as a space"
    : ''
  return `${input}: ${JSON.stringify(value)} is not accepted; use letters, digits, '.', '_' or '-' (starting with a letter or digit, at most ${max})${plus}`
}

function quote(value: string): string {
  return JSON.stringify(value)
}

function oneOf<T extends string>(
  problems: string[],
  input: string,
  value: string,
  accepted: readonly T[],
  extra = ''
): T {
  if ((accepted as readonly string[]).includes(value)) return value as T
  problems.push(`${input}: ${quote(value)} is not accepted; use one of ${accepted.join(', ')}${extra}`)
  return accepted[0] as T
}

export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(text.trim())
  if (!match) return undefined
  const units: Record<string, number> = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }
  const unit = units[(match[2] ?? '').toUpperCase()]
  if (unit === undefined) return undefined
  if (!match[2] && match[3]) return undefined
  return Math.round(Number(match[1]) * unit)
}

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean)
}

function validDate(text: string): boolean {
  const match = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(text)
  if (!match) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
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

/** A file:// URL must name an absolute path and no host (`file://dir/x` reads `dir` as a host). */
function fileUrlProblem(input: string, url: string): string | undefined {
  if (!/^file:/i.test(url) || /^file:\/\/\/(?!\/)/.test(url)) return undefined
  return `${input}: ${quote(url)} is not an absolute file URL; use file:///absolute/path (three slashes: no host part)`
}

function parseBool(problems: string[], input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  problems.push(`${input}: ${quote(value)} is not accepted; use true or false`)
  return false
}

function parseScripts(problems: string[], text: string, cwd: string): HookScript[] {
  if (!text.trim()) return []
  let parsed: unknown
  try {
    parsed = YAML.parse(text)
  } catch (error) {
    problems.push(
      `scripts: not readable as lines "<point>: <path>" (${(error as Error).message.split('\n')[0]})`
    )
    return []
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`scripts: use lines "<point>: <path>" with point one of ${HOOK_POINTS.join(', ')}`)
    return []
  }
  const scripts: HookScript[] = []
  for (const [point, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(HOOK_POINTS as readonly string[]).includes(point)) {
      problems.push(`scripts: ${quote(point)} is not a hook point; use one of ${HOOK_POINTS.join(', ')}`)
      continue
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      const file = path.resolve(cwd, String(item ?? ''))
      if (!isFile(file)) {
        problems.push(`scripts: ${point}: ${quote(String(item ?? ''))} is not a file`)
        continue
      }
      scripts.push({ point: point as HookPoint, path: file })
    }
  }
  return scripts
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory()
  } catch {
    return false
  }
}

function parseBootTest(
  problems: string[],
  get: (name: string) => string,
  read: InputReader,
  bootMode: BootMode
): BootTestConfig {
  const enabled = parseBool(problems, 'boot-test', get('boot-test'))
  const bootable: Firmware[] = bootMode === 'hybrid' ? ['bios', 'uefi'] : [bootMode]
  const asked = splitList(get('boot-test-firmware'))
  const firmware: Firmware[] = []
  for (const word of asked) {
    const value = oneOf<Firmware>(problems, 'boot-test-firmware', word, ['bios', 'uefi'])
    if (firmware.includes(value)) continue
    // The default asks for both; an explicit request the image cannot boot is a mistake.
    if (!bootable.includes(value)) {
      if (read('boot-test-firmware').trim())
        problems.push(
          `boot-test-firmware: ${quote(value)} does not match boot-mode ${quote(bootMode)}; use ${bootable.join(' or ')}`
        )
      continue
    }
    firmware.push(value)
  }
  if (asked.length === 0) problems.push('boot-test-firmware: is empty; use bios, uefi or both')
  const timeoutText = get('boot-test-timeout')
  const timeoutSeconds = Number(timeoutText)
  if (!/^\d+$/.test(timeoutText) || timeoutSeconds < 60 || timeoutSeconds > 7200) {
    problems.push(
      `boot-test-timeout: ${quote(timeoutText)} is not accepted; use whole seconds from 60 to 7200`
    )
  }
  return { enabled, firmware, timeoutSeconds, script: read('boot-test-script').trim() }
}

/** `mode: publish` without image-name: the file's name without its image extension. */
export function publishedImageName(file: string): string {
  return path.basename(file).replace(/\.(qcow2|raw|img)$/, '')
}

/** `<image-family>-<YYYYMMDD>` of the snapshot date, or of today when packages come from a mirror. */
export function defaultImageName(family: string, snapshotDate: string | undefined, today: Date): string {
  const date = snapshotDate ?? today.toISOString().slice(0, 10).replaceAll('-', '/')
  return `${family}-${date.replaceAll('/', '')}`
}

/** Reads every input through `read` (empty string = unset) and returns a validated Config. */
/** An input's value, or its default when it is empty. */
function inputGetter(read: InputReader): (name: string) => string {
  const defaults = new Map(INPUTS.map(input => [input.name, input.default]))
  return name => {
    if (!defaults.has(name)) throw new Error(`BUG: unknown input ${name}`)
    const value = read(name).trim()
    return value === '' ? (defaults.get(name) ?? '') : value
  }
}

/**
 * The OpenStack settings from the Glance inputs and the environment alone (the post step's fallback
 * when its stored token is refused: the other inputs, and the files they name, may be gone by then).
 */
export function glanceSettingsFromInputs(read: InputReader, env: ConfigEnv): OpenStackSettings | undefined {
  const problems: string[] = []
  const get = inputGetter(read)
  const glance = buildGlanceConfig(get, problems, [], env, { mode: get('mode'), preview: false })
  if (problems.length > 0) throw new ConfigError(problems)
  return glance?.settings
}

export function buildConfig(read: InputReader, env: ConfigEnv): Config {
  const problems: string[] = []
  const warnings: string[] = []
  const get = inputGetter(read)

  const modeText = get('mode')
  const mode = oneOf<Config['mode']>(problems, 'mode', modeText, ['build', 'publish', 'cleanup'])

  const imageFamily = get('image-family')
  const familyProblem = nameProblem('image-family', imageFamily, FAMILY_NAME, 100)
  if (familyProblem) problems.push(familyProblem)

  const diskText = get('disk-size')
  let diskSizeBytes = parseSize(diskText) ?? NaN
  if (Number.isNaN(diskSizeBytes)) {
    problems.push(
      `disk-size: ${quote(diskText)} is not a size; use a number with K, M, G or T (e.g. 2G, 4096M)`
    )
  } else if (diskSizeBytes < MIN_DISK_BYTES || diskSizeBytes > MAX_DISK_BYTES) {
    problems.push(`disk-size: ${quote(diskText)} is out of range; use between 512M and 2T`)
  } else {
    diskSizeBytes = Math.ceil(diskSizeBytes / MiB) * MiB
  }

  const filesystem = oneOf<Filesystem>(problems, 'filesystem', get('filesystem'), ['ext4', 'btrfs'])
  const format = oneOf<ImageFormat>(problems, 'format', get('format'), ['qcow2', 'raw'])
  let compression = oneOf<Compression>(problems, 'compression', get('compression'), ['zlib', 'zstd', 'none'])
  if (format === 'raw' && compression === 'zstd') {
    problems.push(`compression: ${quote('zstd')} needs format qcow2; with format raw use none`)
  }
  if (format === 'raw') compression = 'none'

  const packageList = (input: string): string[] => {
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
  const basePackages = packageList('base-packages')
  if (basePackages.length === 0)
    problems.push('base-packages: is empty; name at least one package (e.g. base)')
  const packages = packageList('packages')

  const snapshotText = get('snapshot')
  let snapshot: Snapshot = { kind: 'none' }
  if (snapshotText === 'latest') snapshot = { kind: 'latest' }
  else if (validDate(snapshotText)) snapshot = { kind: 'date', date: snapshotText }
  else if (snapshotText !== '') {
    problems.push(
      `snapshot: ${quote(snapshotText)} is not accepted; use latest, a date YYYY/MM/DD, or leave it empty`
    )
  }

  const archiveUrl = get('archive-url').replace(/\/+$/, '')
  if (!/^(https?|file):\/\/\S+$/.test(archiveUrl)) {
    problems.push(
      `archive-url: ${quote(archiveUrl)} is not accepted; use an http://, https:// or file:// URL`
    )
  } else {
    const local = fileUrlProblem('archive-url', archiveUrl)
    if (local) problems.push(local)
  }

  const mirrorUrls = splitList(get('mirror'))
  const mirrors = mirrorUrls.map(url => mirrorServer(problems, url))

  const signatureLevel = get('signature-level').split(/\s+/).join(' ')
  for (const token of signatureLevel.split(' ')) {
    if (!SIG_LEVEL_TOKENS.has(token)) {
      problems.push(
        `signature-level: ${quote(token)} is not a pacman SigLevel; use words of ${SIG_LEVEL_WORDS.join(', ')}, optionally prefixed with Package or Database`
      )
    }
  }
  if (/(^| )Never( |$)/.test(signatureLevel)) {
    warnings.push(
      'signature-level Never: packages are installed without checking signatures (fine for a local repository only)'
    )
  }

  const preview =
    mode !== 'cleanup' && env.pullRequest
      ? { pr: env.pullRequest.number, sha: env.pullRequest.headSha }
      : undefined
  const imageName =
    get('image-name') ||
    (preview ? `${previewTagPrefix(imageFamily, preview.pr)}-${preview.sha.slice(0, 7)}` : '')
  const nameRefused = imageName ? nameProblem('image-name', imageName, IMAGE_NAME, 128) : undefined
  if (nameRefused) problems.push(nameRefused)

  const outputDir = path.resolve(env.cwd, get('output-dir'))
  const cacheText = get('package-cache-dir')
  const packageCacheDir = cacheText
    ? path.resolve(env.cwd, cacheText)
    : env.runnerTemp
      ? path.join(env.runnerTemp, 'arch-image-pkg')
      : '/var/cache/arch-image/pkg'
  for (const [input, dir] of [
    ['output-dir', outputDir],
    ['package-cache-dir', packageCacheDir]
  ] as const) {
    if (dir === '/' || /[\n\0]/.test(dir))
      problems.push(`${input}: ${quote(dir)} is not accepted; use a directory of its own`)
  }
  // pacman.conf's `CacheDir =` line splits on whitespace: a path with a space would be two directories.
  if (/\s/.test(packageCacheDir)) {
    problems.push(
      `package-cache-dir: ${quote(packageCacheDir)} contains whitespace, which pacman.conf's CacheDir splits on; use a path without spaces`
    )
  }

  const configure = parseBool(problems, 'configure', get('configure'))
  const kernel = oneOf<Kernel>(problems, 'kernel', get('kernel'), ['linux', 'linux-lts'])
  const bootMode = oneOf<BootMode>(problems, 'boot-mode', get('boot-mode'), ['hybrid', 'bios', 'uefi'])
  const kernelCmdline = get('kernel-cmdline').split(/\s+/).join(' ')
  if (!CMDLINE.test(kernelCmdline)) {
    problems.push(
      `kernel-cmdline: ${quote(kernelCmdline)} is not accepted; use parameters of letters, digits and _.,:=+/@%- separated by spaces`
    )
  }
  const predictableNicNames = parseBool(problems, 'predictable-nic-names', get('predictable-nic-names'))
  const datasources = splitList(get('datasources'))
  for (const source of datasources) {
    if (!DATASOURCES.includes(source)) {
      problems.push(
        `datasources: ${quote(source)} is not a cloud-init datasource; use some of ${DATASOURCES.join(', ')}`
      )
    }
  }
  if (datasources.length === 0) problems.push(`datasources: is empty; name at least one, e.g. OpenStack`)
  const user = get('user')
  if (!USER_NAME.test(user) || user === 'root') {
    problems.push(
      `user: ${quote(user)} is not accepted; use a lower-case login name (not root), at most 32 characters`
    )
  }
  const userGroups = splitList(get('user-groups'))
  for (const group of userGroups) {
    if (!USER_NAME.test(group))
      problems.push(`user-groups: ${quote(group)} is not a group name; use lower-case names`)
  }
  const units = (input: string): string[] => {
    const names = splitList(get(input))
    for (const name of names) {
      if (!UNIT_NAME.test(name) || name.startsWith('-')) {
        problems.push(`${input}: ${quote(name)} is not a systemd unit name; use names like sshd or foo.timer`)
      }
    }
    return names
  }
  const servicesEnable = units('services-enable')
  const servicesDisable = units('services-disable')
  const checked = (input: string, pattern: RegExp, accepted: string): string => {
    const value = get(input)
    if (!pattern.test(value) || value.startsWith('-'))
      problems.push(`${input}: ${quote(value)} is not accepted; use ${accepted}`)
    return value
  }
  const locale = checked('locale', LOCALE, 'a locale name such as C.UTF-8 or en_US.UTF-8')
  const timezone = checked('timezone', TIMEZONE, 'a zone name such as UTC or Europe/Berlin')
  const hostname = checked(
    'hostname',
    HOSTNAME,
    'a host name of letters, digits and hyphens (dots between labels)'
  )
  const keymap = checked('keymap', KEYMAP, 'a console keymap name such as us or de-latin1')
  const filesText = get('files')
  const filesDir = filesText ? path.resolve(env.cwd, filesText) : undefined
  if (filesDir && !isDirectory(filesDir)) problems.push(`files: ${quote(filesText)} is not a directory`)
  const scripts = parseScripts(problems, get('scripts'), env.cwd)

  const releaseTag = get('release-tag')
  let release: ReleaseConfig | undefined
  // Git's ref name rules, in short: no spaces or control characters, none of ~^:?*[ and backslash, no '..' or '@{'.
  if (
    releaseTag &&
    // eslint-disable-next-line no-control-regex
    (/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|^[-/.]|[/.]$|\.lock$/.test(releaseTag) || releaseTag.length > 200)
  ) {
    problems.push(
      `release-tag: ${quote(releaseTag)} is not a valid tag name; use letters, digits, '.', '-', '_' and '/'`
    )
  }
  const releaseDraft = parseBool(problems, 'release-draft', get('release-draft'))
  const releasePrerelease = parseBool(problems, 'release-prerelease', get('release-prerelease'))
  const makeLatest = get('release-make-latest')
  if (makeLatest && !['true', 'false', 'legacy'].includes(makeLatest)) {
    problems.push(
      `release-make-latest: ${quote(makeLatest)} is not accepted; use true, false, legacy or leave it empty`
    )
  }
  const githubToken = get('github-token')
  const tokenMissing = !githubToken || githubToken.includes('${{')
  if (releaseTag) {
    const token = githubToken
    if (tokenMissing) {
      problems.push(
        'github-token: is empty; a release needs a token with contents: write (the default is ${{ github.token }})'
      )
    }
    release = {
      tag: releaseTag,
      name: get('release-name'),
      draft: releaseDraft,
      prerelease: releasePrerelease,
      makeLatest: (makeLatest || undefined) as ReleaseConfig['makeLatest'],
      token
    }
  }

  const cache = parseBool(problems, 'cache', get('cache'))
  const pacmanFrom = oneOf<PacmanFrom>(problems, 'pacman-from', get('pacman-from'), PACMAN_FROM)
  const keyringText = get('bootstrap-keyring')
  const bootstrapKeyring = keyringText ? path.resolve(env.cwd, keyringText) : undefined
  if (bootstrapKeyring) {
    const problem = keyringFileProblem(bootstrapKeyring)
    if (problem) {
      problems.push(
        `bootstrap-keyring: ${quote(keyringText)} ${problem}; use a file of OpenPGP public keys, binary or ASCII-armored (gpg --export [--armor] KEY)`
      )
    }
    if (pacmanFrom === 'host') {
      warnings.push(
        'bootstrap-keyring: not used with pacman-from host (it checks the bootstrap tarball only)'
      )
    }
  }

  const comment = parseBool(problems, 'comment', get('comment'))
  if (comment && mode === 'build' && !preview) {
    warnings.push('comment: true needs a pull_request or pull_request_target event; no comment is posted')
  }
  if (comment && preview && tokenMissing) {
    problems.push('github-token: is empty; a pull request comment needs a token with pull-requests: write')
  }
  const previousText = get('previous-manifest')
  let previousManifest: Config['previousManifest']
  if (previousText === 'release') {
    previousManifest = { kind: 'release' }
    if (tokenMissing) {
      problems.push(
        "github-token: is empty; previous-manifest: release reads the latest release's manifest with it"
      )
    }
  } else if (previousText) {
    const file = path.resolve(env.cwd, previousText)
    if (!isFile(file)) {
      problems.push(
        `previous-manifest: ${quote(previousText)} is not a file; use the path of an earlier build's manifest, release, or leave it empty`
      )
    }
    previousManifest = { kind: 'path', path: file }
  }

  let cleanup: Config['cleanup']
  const prText = get('pr-number')
  if (prText && !/^[1-9]\d{0,9}$/.test(prText)) {
    problems.push(`pr-number: ${quote(prText)} is not accepted; use a pull request number such as 42`)
  }
  if (mode === 'cleanup') {
    const pr = prText ? Number(prText) : env.pullRequest?.number
    if (pr === undefined) {
      problems.push(
        'pr-number: is empty and the event is not a pull request; mode: cleanup needs the pull request number (run it on pull_request: closed, or set pr-number)'
      )
    } else {
      cleanup = { pr }
    }
    if (tokenMissing) {
      problems.push(
        'github-token: is empty; mode: cleanup deletes releases with it (needs contents: write; the default is ${{ github.token }})'
      )
    }
  }

  const glance = buildGlanceConfig(get, problems, warnings, env, { mode, preview: preview !== undefined })
  let imagePath: string | undefined
  let publishName = ''
  const imagePathText = get('image-path')
  if (mode === 'publish') {
    imagePath = path.resolve(env.cwd, imagePathText)
    if (!imagePathText) problems.push('image-path: is empty; mode: publish needs the image file to publish')
    else if (!isFile(imagePath)) problems.push(`image-path: ${quote(imagePathText)} is not a file`)
    else {
      const outside = selfContainedProblem('image-path', imagePath)
      if (outside) problems.push(outside)
      if (!imageName) {
        publishName = publishedImageName(imagePath)
        const refused = nameProblem('image-name', publishName, IMAGE_NAME, 128)
        if (refused)
          problems.push(`${refused} (the name comes from the file name of image-path; set image-name)`)
      }
    }
    if (releaseTag) {
      problems.push('release-tag: mode: publish only publishes to Glance; attach release assets in the build')
    }
  } else if (imagePathText) {
    problems.push(`image-path: is only read by mode: publish (mode is ${mode}); leave it empty`)
  }

  const bootTest = parseBootTest(problems, get, read, bootMode)

  if (problems.length > 0) throw new ConfigError(problems)
  return {
    bootTest,
    mode,
    imagePath,
    glance,
    imageName: imageName || publishName,
    imageFamily,
    diskSizeBytes,
    filesystem,
    format,
    compression,
    basePackages,
    packages,
    mirrors,
    snapshot,
    archiveUrl,
    signatureLevel,
    outputDir,
    packageCacheDir,
    architecture: 'x86_64',
    configure,
    kernel,
    bootMode,
    kernelCmdline,
    predictableNicNames,
    datasources,
    user,
    userGroups,
    servicesEnable,
    servicesDisable,
    locale,
    timezone,
    hostname,
    keymap,
    filesDir,
    scripts,
    release,
    pacmanFrom,
    bootstrapKeyring,
    cache,
    preview,
    cleanup,
    comment,
    previousManifest,
    githubToken,
    warnings
  }
}
