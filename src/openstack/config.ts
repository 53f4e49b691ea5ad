// OpenStack settings resolved the way openstackclient resolves them: a cloud from clouds.yaml (with
// secure.yaml merged in) as the base, OS_* variables over it, explicit options over both. Pure: the
// environment, the files and the secret mask come in as arguments.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { plainHttpProblem } from './plain-http.js'
import { proxySecrets } from './proxy.js'

export type AuthType = 'password' | 'v3applicationcredential' | 'v3token'
export type Interface = 'public' | 'internal' | 'admin'

export interface PasswordAuth {
  type: 'password'
  authUrl: string
  username?: string
  userId?: string
  password: string
  userDomainName?: string
  userDomainId?: string
  projectName?: string
  projectId?: string
  projectDomainName?: string
  projectDomainId?: string
}

export interface ApplicationCredentialAuth {
  type: 'v3applicationcredential'
  authUrl: string
  id?: string
  name?: string
  secret: string
  /** Owner of a credential given by name. */
  username?: string
  userId?: string
  userDomainName?: string
  userDomainId?: string
}

/**
 * A Keystone token someone else obtained (OS_TOKEN): traded for a token of our own (scoped to the
 * project when one is given), which the run revokes as it does every token it obtains. The given token
 * itself is never revoked: we did not create it and its owner may still be using it.
 */
export interface TokenAuth {
  type: 'v3token'
  authUrl: string
  token: string
  projectName?: string
  projectId?: string
  projectDomainName?: string
  projectDomainId?: string
}

export type OpenStackAuth = PasswordAuth | ApplicationCredentialAuth | TokenAuth

export interface OpenStackSettings {
  auth: OpenStackAuth
  regionName?: string
  interface: Interface
  /** Path of a PEM bundle of CAs to trust (on top of nothing: it replaces the system store, as in OSC). */
  cacert?: string
  insecure: boolean
  /** Use this Glance URL instead of the catalog's. */
  imageEndpoint?: string
  /** Plain http:// to other machines is allowed (allow-insecure-http); loopback always is. */
  allowInsecureHttp?: boolean
  /** The clouds.yaml entry used, if any. */
  cloud?: string
  /** Harmless oddities worth a warning (ignored settings). */
  warnings: string[]
}

export interface ResolveOptions {
  /** Content or path of a clouds.yaml. Without it, a named cloud is looked for where OSC looks. */
  cloudsYaml?: string
  /** Content or path of a secure.yaml merged into clouds.yaml. */
  secureYaml?: string
  /** Name of the cloud in clouds.yaml (default OS_CLOUD). */
  cloud?: string
  region?: string
  interface?: string
  cacert?: string
  insecure?: boolean
  imageEndpoint?: string
  /** Accept plain http:// URLs of other machines (allow-insecure-http). */
  allowInsecureHttp?: boolean
  /** Called with every secret the moment it is read, so logs can hide it. */
  mask?: (secret: string) => void
  /** Working directory for relative paths and ./clouds.yaml (default process.cwd()). */
  cwd?: string
  readFile?: (file: string) => string
  fileExists?: (file: string) => boolean
}

export type Env = Record<string, string | undefined>

/** Every problem of the settings, reported together. */
export class OpenStackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid OpenStack settings:\n${problems.map(problem => `  - ${problem}`).join('\n')}`)
    this.name = 'OpenStackConfigError'
  }
}

/** The auth fields as clouds.yaml names them (under `auth:`), with their OS_* variable. */
const AUTH_FIELDS = {
  auth_url: 'OS_AUTH_URL',
  username: 'OS_USERNAME',
  user_id: 'OS_USER_ID',
  password: 'OS_PASSWORD',
  user_domain_name: 'OS_USER_DOMAIN_NAME',
  user_domain_id: 'OS_USER_DOMAIN_ID',
  project_name: 'OS_PROJECT_NAME',
  project_id: 'OS_PROJECT_ID',
  project_domain_name: 'OS_PROJECT_DOMAIN_NAME',
  project_domain_id: 'OS_PROJECT_DOMAIN_ID',
  domain_name: 'OS_DOMAIN_NAME',
  domain_id: 'OS_DOMAIN_ID',
  default_domain: 'OS_DEFAULT_DOMAIN',
  application_credential_id: 'OS_APPLICATION_CREDENTIAL_ID',
  application_credential_name: 'OS_APPLICATION_CREDENTIAL_NAME',
  application_credential_secret: 'OS_APPLICATION_CREDENTIAL_SECRET',
  token: 'OS_TOKEN'
} as const
type AuthField = keyof typeof AUTH_FIELDS

/** Legacy OS_* spellings openstackclient still accepts. */
const ENV_ALIASES: Partial<Record<AuthField, string[]>> = {
  project_name: ['OS_TENANT_NAME'],
  project_id: ['OS_TENANT_ID']
}

/** Top-level (cloud) settings: clouds.yaml key and variable. */
const CLOUD_FIELDS = {
  auth_type: 'OS_AUTH_TYPE',
  region_name: 'OS_REGION_NAME',
  interface: 'OS_INTERFACE',
  cacert: 'OS_CACERT',
  insecure: 'OS_INSECURE',
  image_endpoint_override: 'OS_IMAGE_ENDPOINT_OVERRIDE'
} as const
type CloudField = keyof typeof CLOUD_FIELDS

const SECRET_FIELDS: AuthField[] = ['password', 'application_credential_secret', 'token']

const AUTH_TYPES: Record<string, AuthType> = {
  password: 'password',
  v3password: 'password',
  v3applicationcredential: 'v3applicationcredential',
  applicationcredential: 'v3applicationcredential',
  application_credential: 'v3applicationcredential',
  v3token: 'v3token',
  token: 'v3token'
}

type Values = Record<string, string | undefined>

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value.trim() === '' ? undefined : value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

export function parseBoolean(value: string, setting: string): boolean {
  const lower = value.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true
  if (['0', 'false', 'no', 'off', ''].includes(lower)) return false
  throw new OpenStackConfigError([`${setting} must be true or false, not '${value}'`])
}

/** Content when it looks like YAML (several lines, or a flow mapping), a path otherwise. */
function contentOrPath(
  value: string,
  setting: string,
  cwd: string,
  readFile: (file: string) => string,
  fileExists: (file: string) => boolean
): { content: string; origin: string } {
  if (value.includes('\n') || value.trimStart().startsWith('{')) return { content: value, origin: setting }
  const file = path.resolve(cwd, value.trim())
  if (!fileExists(file)) {
    throw new OpenStackConfigError([`${setting}: no such file ${file} (give the file's content or its path)`])
  }
  return { content: readFile(file), origin: file }
}

function parseYaml(content: string, origin: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = YAML.parse(content)
  } catch (error) {
    throw new OpenStackConfigError([
      `${origin} is not valid YAML: ${(error as Error).message.split('\n')[0]}`
    ])
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OpenStackConfigError([`${origin} must be a mapping with a 'clouds:' key`])
  }
  return parsed as Record<string, unknown>
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** secure.yaml over clouds.yaml, mapping by mapping (as openstacksdk merges them). */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key]
    merged[key] = isMapping(current) && isMapping(value) ? deepMerge(current, value) : value
  }
  return merged
}

/** Where openstackclient looks for clouds.yaml / secure.yaml, in its order. */
export function standardConfigPaths(kind: 'clouds' | 'secure', env: Env, cwd: string): string[] {
  const override = kind === 'clouds' ? env.OS_CLIENT_CONFIG_FILE : env.OS_CLIENT_SECURE_FILE
  const home = env.HOME
  const xdg = env.XDG_CONFIG_HOME || (home ? path.join(home, '.config') : undefined)
  return [
    ...(override ? [override] : []),
    path.join(cwd, `${kind}.yaml`),
    ...(xdg ? [path.join(xdg, 'openstack', `${kind}.yaml`)] : []),
    `/etc/openstack/${kind}.yaml`
  ]
}

interface CloudEntry {
  auth: Values
  top: Values
  origin: string
}

function loadCloud(
  name: string,
  options: ResolveOptions,
  env: Env,
  cwd: string,
  readFile: (file: string) => string,
  fileExists: (file: string) => boolean
): CloudEntry {
  let clouds: { content: string; origin: string } | undefined
  if (options.cloudsYaml) {
    clouds = contentOrPath(options.cloudsYaml, 'clouds-yaml', cwd, readFile, fileExists)
  } else {
    const found = standardConfigPaths('clouds', env, cwd).find(file => fileExists(file))
    if (!found) {
      throw new OpenStackConfigError([
        `cloud '${name}' was asked for but no clouds.yaml was given (clouds-yaml) or found in ` +
          standardConfigPaths('clouds', env, cwd).join(', ')
      ])
    }
    clouds = { content: readFile(found), origin: found }
  }
  let document = parseYaml(clouds.content, clouds.origin)

  let secure: { content: string; origin: string } | undefined
  if (options.secureYaml) {
    secure = contentOrPath(options.secureYaml, 'secure-yaml', cwd, readFile, fileExists)
  } else if (!options.cloudsYaml) {
    const found = standardConfigPaths('secure', env, cwd).find(file => fileExists(file))
    if (found) secure = { content: readFile(found), origin: found }
  }
  if (secure) document = deepMerge(document, parseYaml(secure.content, secure.origin))

  const cloudsMap = document.clouds
  if (!isMapping(cloudsMap)) {
    throw new OpenStackConfigError([`${clouds.origin} has no 'clouds:' mapping`])
  }
  const entry = cloudsMap[name]
  if (!isMapping(entry)) {
    const known = Object.keys(cloudsMap)
    throw new OpenStackConfigError([
      `cloud '${name}' is not in ${clouds.origin} (it has: ${known.length > 0 ? known.join(', ') : 'none'})`
    ])
  }
  if (entry.profile !== undefined) {
    throw new OpenStackConfigError([
      `cloud '${name}': vendor profiles (profile: ${String(entry.profile)}) are not supported; write auth_url etc.`
    ])
  }
  const auth: Values = {}
  if (entry.auth !== undefined && !isMapping(entry.auth)) {
    throw new OpenStackConfigError([`cloud '${name}': auth must be a mapping`])
  }
  for (const [key, value] of Object.entries(entry.auth ?? {})) auth[key] = text(value)
  const top: Values = {}
  for (const [key, value] of Object.entries(entry)) if (key !== 'auth') top[key] = text(value)
  // clouds.yaml spells region either region_name or a list of regions; take the first
  if (!top.region_name && Array.isArray(entry.regions) && entry.regions.length > 0) {
    const first = entry.regions[0] as unknown
    top.region_name = isMapping(first) ? text(first.name) : text(first)
  }
  // `verify: false` is clouds.yaml's `insecure`
  if (top.verify !== undefined && top.insecure === undefined) {
    top.insecure = String(!parseBoolean(top.verify, `cloud '${name}': verify`))
  }
  return { auth, top, origin: `${clouds.origin} (cloud '${name}')` }
}

function normaliseInterface(value: string, setting: string): Interface {
  const lower = value.trim().toLowerCase().replace(/url$/, '')
  if (lower === 'public' || lower === 'internal' || lower === 'admin') return lower
  throw new OpenStackConfigError([`${setting} must be public, internal or admin, not '${value}'`])
}

/** The Keystone v3 URL: `.../v3` appended when the URL names no version. */
export function normaliseAuthUrl(value: string, setting = 'auth_url'): string {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new OpenStackConfigError([`${setting} must be an http(s) URL, not '${value}'`])
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OpenStackConfigError([`${setting} must be an http(s) URL, not '${value}'`])
  }
  if (url.username || url.password) {
    throw new OpenStackConfigError([`${setting} must not carry credentials`])
  }
  const trimmed = url.pathname.replace(/\/+$/, '')
  if (/\/v2(\.\d+)?$/.test(trimmed)) {
    throw new OpenStackConfigError([
      `${setting} points at Keystone v2 (${value}); only the v3 API is supported`
    ])
  }
  url.pathname = /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`
  url.search = ''
  url.hash = ''
  return url.toString()
}

/** Settings by field, each with where it came from (for messages). */
interface Layered {
  auth: Values
  authFrom: Record<string, string>
  top: Values
  topFrom: Record<string, string>
}

/** The clouds.yaml entry, then the OS_* variables, then the explicit options: later wins. */
function layerSettings(cloud: CloudEntry | undefined, env: Env, options: ResolveOptions): Layered {
  const layered: Layered = { auth: {}, authFrom: {}, top: {}, topFrom: {} }
  const setAuth = (field: string, value: string | undefined, from: string): void => {
    if (value === undefined) return
    layered.auth[field] = value
    layered.authFrom[field] = from
  }
  const setTop = (field: string, value: string | undefined, from: string): void => {
    if (value === undefined) return
    layered.top[field] = value
    layered.topFrom[field] = from
  }
  if (cloud) {
    for (const [key, value] of Object.entries(cloud.auth))
      setAuth(key, value, `auth.${key} in ${cloud.origin}`)
    for (const [key, value] of Object.entries(cloud.top)) setTop(key, value, `${key} in ${cloud.origin}`)
  }
  for (const [field, variable] of Object.entries(AUTH_FIELDS) as [AuthField, string][]) {
    const name = [variable, ...(ENV_ALIASES[field] ?? [])].find(
      candidate => text(env[candidate]) !== undefined
    )
    if (name) setAuth(field, text(env[name]), name)
  }
  for (const [field, variable] of Object.entries(CLOUD_FIELDS) as [CloudField, string][]) {
    setTop(field, text(env[variable]), variable)
  }
  setTop('region_name', text(options.region), 'region')
  setTop('interface', text(options.interface), 'interface')
  setTop('cacert', text(options.cacert), 'cacert')
  setTop('insecure', options.insecure === undefined ? undefined : String(options.insecure), 'insecure')
  setTop('image_endpoint_override', text(options.imageEndpoint), 'image-endpoint')
  return layered
}

/** The auth type: explicit, or guessed from what is there (password wins, as the default plugin). */
function chooseAuthType({ auth, top, topFrom }: Layered, problems: string[]): AuthType | undefined {
  const raw = top.auth_type
  if (!raw) {
    if (auth.password) return 'password'
    if (auth.application_credential_secret) return 'v3applicationcredential'
    return auth.token ? 'v3token' : 'password'
  }
  const authType = AUTH_TYPES[raw.trim().toLowerCase()]
  if (!authType) {
    problems.push(
      `${topFrom.auth_type ?? 'auth_type'} '${raw}' is not supported: use password, v3applicationcredential or v3token`
    )
  }
  return authType
}

function keystoneUrl(
  { auth, authFrom }: Layered,
  allowInsecureHttp: boolean,
  problems: string[],
  where: (field: AuthField) => string
): string {
  if (!auth.auth_url) {
    problems.push(`the Keystone URL is missing: set ${where('auth_url')}`)
    return ''
  }
  let authUrl = ''
  try {
    authUrl = normaliseAuthUrl(auth.auth_url, authFrom.auth_url ?? 'auth_url')
  } catch (error) {
    problems.push(...(error as OpenStackConfigError).problems)
  }
  const plainHttp = plainHttpProblem(auth.auth_url, authFrom.auth_url ?? 'auth_url', allowInsecureHttp)
  if (plainHttp) problems.push(plainHttp)
  return authUrl
}

function passwordAuth(
  auth: Values,
  authUrl: string,
  problems: string[],
  where: (field: AuthField) => string
): OpenStackAuth {
  // OSC fills missing user/project domains from default_domain ('default')
  const defaultDomain = auth.default_domain ?? 'default'
  if (!auth.username && !auth.user_id) {
    problems.push(`password auth needs a user: set ${where('username')} or ${where('user_id')}`)
  }
  if (!auth.password) problems.push(`password auth needs ${where('password')}`)
  const userDomainName = auth.user_domain_name ?? (auth.user_domain_id ? undefined : auth.domain_name)
  const userDomainId = auth.user_domain_id ?? (userDomainName ? undefined : (auth.domain_id ?? defaultDomain))
  if (!auth.project_name && !auth.project_id) {
    problems.push(
      `password auth needs a project to scope the token to (images belong to a project): set ` +
        `${where('project_name')} or ${where('project_id')}`
    )
  }
  return {
    type: 'password',
    authUrl,
    password: auth.password ?? '',
    ...defined({
      username: auth.user_id ? undefined : auth.username,
      userId: auth.user_id,
      userDomainName: auth.user_id ? undefined : userDomainName,
      userDomainId: auth.user_id ? undefined : userDomainId
    }),
    ...projectScope(auth)
  }
}

/** The project a token is scoped to: by id, or by name in its domain (OSC's fallbacks); none without either. */
function projectScope(
  auth: Values
): Pick<TokenAuth, 'projectId' | 'projectName' | 'projectDomainName' | 'projectDomainId'> {
  if (auth.project_id) return { projectId: auth.project_id }
  if (!auth.project_name) return {}
  const projectDomainName =
    auth.project_domain_name ?? (auth.project_domain_id ? undefined : auth.domain_name)
  const projectDomainId =
    auth.project_domain_id ??
    (projectDomainName ? undefined : (auth.domain_id ?? auth.default_domain ?? 'default'))
  return defined({ projectName: auth.project_name, projectDomainName, projectDomainId })
}

function applicationCredentialAuth(
  { auth, authFrom }: Layered,
  authUrl: string,
  problems: string[],
  warnings: string[],
  where: (field: AuthField) => string
): OpenStackAuth {
  const defaultDomain = auth.default_domain ?? 'default'
  if (!auth.application_credential_secret) {
    problems.push(`application credential auth needs ${where('application_credential_secret')}`)
  }
  if (!auth.application_credential_id && !auth.application_credential_name) {
    problems.push(
      `application credential auth needs ${where('application_credential_id')} ` +
        `(or ${where('application_credential_name')} with its user)`
    )
  }
  if (
    !auth.application_credential_id &&
    auth.application_credential_name &&
    !auth.username &&
    !auth.user_id
  ) {
    problems.push(
      `an application credential given by name needs its user: set ${where('username')} or ${where('user_id')}`
    )
  }
  const ignored = (['project_name', 'project_id', 'project_domain_name', 'project_domain_id'] as AuthField[])
    .filter(field => auth[field])
    .map(field => authFrom[field] ?? field)
  if (ignored.length > 0) {
    warnings.push(
      `ignoring ${ignored.join(', ')}: an application credential is bound to its project and takes no scope`
    )
  }
  const byName = !auth.application_credential_id
  const userDomainName = auth.user_domain_name ?? (auth.user_domain_id ? undefined : auth.domain_name)
  return {
    type: 'v3applicationcredential',
    authUrl,
    secret: auth.application_credential_secret ?? '',
    ...defined({
      id: auth.application_credential_id,
      name: byName ? auth.application_credential_name : undefined,
      username: byName && !auth.user_id ? auth.username : undefined,
      userId: byName ? auth.user_id : undefined,
      userDomainName: byName && !auth.user_id ? userDomainName : undefined,
      userDomainId:
        byName && !auth.user_id
          ? (auth.user_domain_id ?? (userDomainName ? undefined : (auth.domain_id ?? defaultDomain)))
          : undefined
    })
  }
}

function tokenAuth(
  auth: Values,
  authUrl: string,
  problems: string[],
  where: (field: AuthField) => string
): OpenStackAuth {
  if (!auth.token) problems.push(`token auth needs ${where('token')}`)
  return { type: 'v3token', authUrl, token: auth.token ?? '', ...projectScope(auth) }
}

/** interface, insecure, cacert and the image endpoint override, each checked. */
function connectionSettings(
  { top, topFrom }: Layered,
  cwd: string,
  fileExists: (file: string) => boolean,
  allowInsecureHttp: boolean,
  problems: string[],
  warnings: string[]
): { iface: Interface; insecure: boolean; cacert?: string; imageEndpoint?: string } {
  const collect = <T>(parse: () => T, fallback: T): T => {
    try {
      return parse()
    } catch (error) {
      problems.push(...(error as OpenStackConfigError).problems)
      return fallback
    }
  }
  const iface: Interface = top.interface
    ? collect(() => normaliseInterface(top.interface as string, topFrom.interface ?? 'interface'), 'public')
    : 'public'
  const insecure = top.insecure
    ? collect(() => parseBoolean(top.insecure as string, topFrom.insecure ?? 'insecure'), false)
    : false
  let cacert: string | undefined
  if (top.cacert) {
    cacert = path.resolve(cwd, top.cacert)
    if (!fileExists(cacert)) problems.push(`${topFrom.cacert ?? 'cacert'}: no such file ${cacert}`)
  }
  let imageEndpoint: string | undefined
  const override = top.image_endpoint_override
  if (override) {
    const from = topFrom.image_endpoint_override ?? 'image-endpoint'
    try {
      const url = new URL(override)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http')
      imageEndpoint = override
    } catch {
      problems.push(`${from} must be an http(s) URL, not '${override}'`)
    }
    const plainHttp = imageEndpoint && plainHttpProblem(imageEndpoint, from, allowInsecureHttp)
    if (plainHttp) problems.push(plainHttp)
  }
  if (cacert && insecure) warnings.push('insecure is set: the cacert is not used to verify the server')
  return { iface, insecure, ...defined({ cacert, imageEndpoint }) }
}

/**
 * Resolve the settings. Order (later wins): clouds.yaml cloud (+ secure.yaml), OS_* variables,
 * explicit options. With a cloud selected, variables still override single fields, as with
 * `openstack --os-cloud` (its options default to the OS_* variables).
 */
export function resolveOpenStackSettings(env: Env, options: ResolveOptions = {}): OpenStackSettings {
  const cwd = options.cwd ?? process.cwd()
  const readFile = options.readFile ?? ((file: string) => readFileSync(file, 'utf8'))
  const fileExists = options.fileExists ?? existsSync
  const mask = options.mask ?? (() => {})
  const allowInsecureHttp = options.allowInsecureHttp ?? false
  const warnings: string[] = []
  const problems: string[] = []

  const cloudName = text(options.cloud) ?? text(env.OS_CLOUD)
  if (!cloudName && options.cloudsYaml) {
    throw new OpenStackConfigError(['clouds-yaml was given without a cloud name (cloud, or OS_CLOUD)'])
  }
  const cloud = cloudName ? loadCloud(cloudName, options, env, cwd, readFile, fileExists) : undefined
  const layered = layerSettings(cloud, env, options)
  const { auth, authFrom } = layered
  // Every secret we hold gets masked, even one the chosen auth type ends up not using.
  for (const field of SECRET_FIELDS) if (auth[field]) mask(auth[field] as string)
  // a proxy URL may carry a user and password (https_proxy=http://user:pass@proxy:3128)
  for (const secret of proxySecrets(env)) mask(secret)
  const where = (field: AuthField): string =>
    authFrom[field] ?? `${AUTH_FIELDS[field]} or auth.${field} in clouds.yaml`

  const authType = chooseAuthType(layered, problems)
  const authUrl = keystoneUrl(layered, allowInsecureHttp, problems, where)
  const resolvedAuth =
    authType === 'password'
      ? passwordAuth(auth, authUrl, problems, where)
      : authType === 'v3applicationcredential'
        ? applicationCredentialAuth(layered, authUrl, problems, warnings, where)
        : authType === 'v3token'
          ? tokenAuth(auth, authUrl, problems, where)
          : undefined
  const connection = connectionSettings(layered, cwd, fileExists, allowInsecureHttp, problems, warnings)

  if (problems.length > 0 || !resolvedAuth) throw new OpenStackConfigError(problems)
  return {
    auth: resolvedAuth,
    interface: connection.iface,
    insecure: connection.insecure,
    allowInsecureHttp,
    warnings,
    ...defined({
      regionName: layered.top.region_name,
      cacert: connection.cacert,
      imageEndpoint: connection.imageEndpoint,
      cloud: cloudName
    })
  }
}

/** The object without its undefined members (for exactOptionalPropertyTypes-friendly spreads). */
function defined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** One line saying who we authenticate as (no secrets). */
export function describeAuth(settings: OpenStackSettings): string {
  const auth = settings.auth
  if (auth.type === 'password') {
    const user = auth.userId ?? `${auth.username}@${auth.userDomainName ?? auth.userDomainId}`
    const project = auth.projectId ?? `${auth.projectName}@${auth.projectDomainName ?? auth.projectDomainId}`
    return `password auth as ${user}, project ${project}, at ${auth.authUrl}`
  }
  if (auth.type === 'v3token') {
    const project =
      auth.projectId ??
      (auth.projectName ? `${auth.projectName}@${auth.projectDomainName ?? auth.projectDomainId}` : undefined)
    return `token auth (a given token)${project ? `, project ${project}` : ''}, at ${auth.authUrl}`
  }
  const credential = auth.id ?? `${auth.name} of ${auth.userId ?? auth.username}`
  return `application credential ${credential} at ${auth.authUrl}`
}
