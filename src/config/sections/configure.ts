// How the image is configured: kernel, boot mode and command line, network names, cloud-init
// (datasources, default user), services, system settings, and the user's files and hook scripts.
import path from 'node:path'
import YAML from 'yaml'
import type { SectionInput } from '../reader.js'
import { isDirectory, isFile, oneOf, parseBool, quote, splitList } from '../validate.js'

export type Kernel = 'linux' | 'linux-lts'
export type BootMode = 'hybrid' | 'bios' | 'uefi'
export const HOOK_POINTS = ['after-bootstrap', 'after-configure', 'before-seal'] as const
export type HookPoint = (typeof HOOK_POINTS)[number]

export interface HookScript {
  point: HookPoint
  path: string
}

export interface ConfigureConfig {
  /** The cloud-image configuration stages run (false: a bare, sealed pacstrap). */
  enabled: boolean
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
}

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

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/
const LOCALE = /^[A-Za-z0-9_.@-]+$/
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const KEYMAP = /^[A-Za-z0-9_.-]+$/
// Written into /etc/default/grub, which is sourced by a shell inside double quotes.
const CMDLINE = /^[A-Za-z0-9 _.,:=+/@%-]*$/

function parseBoot({ get, problems }: SectionInput) {
  const kernel = oneOf<Kernel>(problems, 'kernel', get('kernel'), ['linux', 'linux-lts'])
  const bootMode = oneOf<BootMode>(problems, 'boot-mode', get('boot-mode'), ['hybrid', 'bios', 'uefi'])
  const kernelCmdline = get('kernel-cmdline').split(/\s+/).join(' ')
  if (!CMDLINE.test(kernelCmdline)) {
    problems.push(
      `kernel-cmdline: ${quote(kernelCmdline)} is not accepted; use parameters of letters, digits and _.,:=+/@%- separated by spaces`
    )
  }
  const predictableNicNames = parseBool(problems, 'predictable-nic-names', get('predictable-nic-names'))
  return { kernel, bootMode, kernelCmdline, predictableNicNames }
}

function parseCloudInit({ get, problems }: SectionInput) {
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
  return { datasources, user, userGroups }
}

function units({ get, problems }: SectionInput, input: 'services-enable' | 'services-disable'): string[] {
  const names = splitList(get(input))
  for (const name of names) {
    if (!UNIT_NAME.test(name) || name.startsWith('-')) {
      problems.push(`${input}: ${quote(name)} is not a systemd unit name; use names like sshd or foo.timer`)
    }
  }
  return names
}

function parseSystem(input: SectionInput) {
  const checked = (
    name: 'locale' | 'timezone' | 'hostname' | 'keymap',
    pattern: RegExp,
    accepted: string
  ) => {
    const value = input.get(name)
    if (!pattern.test(value) || value.startsWith('-'))
      input.problems.push(`${name}: ${quote(value)} is not accepted; use ${accepted}`)
    return value
  }
  return {
    locale: checked('locale', LOCALE, 'a locale name such as C.UTF-8 or en_US.UTF-8'),
    timezone: checked('timezone', TIMEZONE, 'a zone name such as UTC or Europe/Berlin'),
    hostname: checked(
      'hostname',
      HOSTNAME,
      'a host name of letters, digits and hyphens (dots between labels)'
    ),
    keymap: checked('keymap', KEYMAP, 'a console keymap name such as us or de-latin1')
  }
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

export function parseConfigure(input: SectionInput): ConfigureConfig {
  const { get, problems, env } = input
  const enabled = parseBool(problems, 'configure', get('configure'))
  const boot = parseBoot(input)
  const cloudInit = parseCloudInit(input)
  const servicesEnable = units(input, 'services-enable')
  const servicesDisable = units(input, 'services-disable')
  const system = parseSystem(input)
  const filesText = get('files')
  const filesDir = filesText ? path.resolve(env.cwd, filesText) : undefined
  if (filesDir && !isDirectory(filesDir)) problems.push(`files: ${quote(filesText)} is not a directory`)
  const scripts = parseScripts(problems, get('scripts'), env.cwd)
  return { enabled, ...boot, ...cloudInit, servicesEnable, servicesDisable, ...system, filesDir, scripts }
}
