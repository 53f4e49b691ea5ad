// Keystone v3: a project-scoped password token, an application-credential token (which takes no
// scope) or a token traded for a given one (v3token), its expiry, and the image endpoint from its catalog. A token is masked in the log the moment
// Keystone hands it over, sent only as X-Auth-Token, and revoked when the run is done with it.
import type {
  ApplicationCredentialAuth,
  Interface,
  OpenStackSettings,
  PasswordAuth,
  TokenAuth
} from './config.js'
import { describeAuth } from './config.js'
import { HttpClient, OpenStackError, type TlsSettings } from './http.js'
import { catalogEndpointProblem } from './plain-http.js'
import { describeProxy, proxyFor } from './proxy.js'

export interface CatalogEndpoint {
  id?: string
  interface: string
  region?: string | null
  region_id?: string | null
  url: string
}

export interface CatalogService {
  type: string
  name?: string
  endpoints: CatalogEndpoint[]
}

export interface Token {
  value: string
  expiresAt: Date
  issuedAt?: Date
  userId: string
  userName?: string
  projectId?: string
  projectName?: string
  catalog: CatalogService[]
}

/** Where log lines go: the action's Log, a console, a test's recorder. */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  /** Hide a value from every later line (core.setSecret in Actions). */
  setSecret?(value: string): void
}

/** Where Keystone is and how to reach it: what revoking a token takes (no credential). */
export interface KeystoneAccess extends TlsSettings {
  authUrl: string
}

export function keystoneAccess(settings: OpenStackSettings): KeystoneAccess {
  return {
    authUrl: settings.auth.authUrl,
    ...(settings.cacert ? { cacert: settings.cacert } : {}),
    ...(settings.insecure ? { insecure: true } : {})
  }
}

function tokensUrl(authUrl: string): string {
  return `${authUrl.replace(/\/+$/, '')}/auth/tokens`
}

/**
 * Revoke tokens (each authorises its own revocation). A token Keystone no longer accepts (401: expired
 * or revoked; 404: unknown) is already what we want. Never throws: failures are warnings.
 */
export async function revokeTokens(
  http: HttpClient,
  authUrl: string,
  tokens: readonly string[],
  log: Logger
): Promise<number> {
  let revoked = 0
  for (const token of new Set(tokens)) {
    try {
      const response = await http.request({
        method: 'DELETE',
        url: tokensUrl(authUrl),
        headers: { 'X-Auth-Token': token, 'X-Subject-Token': token },
        accept: [401, 404]
      })
      if (response.status < 300) revoked++
    } catch (error) {
      log.warning(`Keystone: could not revoke a token: ${(error as Error).message}`)
    }
  }
  return revoked
}

/** Revoke with a client of its own (the post step, the teardown): what a stored KeystoneAccess allows. */
export async function revokeStoredTokens(
  access: KeystoneAccess,
  tokens: readonly string[],
  log: Logger
): Promise<void> {
  if (tokens.length === 0) return
  let http: HttpClient | undefined
  try {
    http = new HttpClient(access)
    const revoked = await revokeTokens(http, access.authUrl, tokens, log)
    log.info(`Keystone: revoked ${revoked} of ${new Set(tokens).size} token(s) of this run`)
  } catch (error) {
    // a CA bundle that is gone by now
    log.warning(`Keystone: could not revoke the run's tokens: ${(error as Error).message}`)
  } finally {
    http?.close()
  }
}

/** What the Glance client needs from an authenticated session. */
export interface TokenSource {
  /** A token valid for at least `minValidityMs` more (re-authenticates when needed). */
  token(minValidityMs?: number): Promise<string>
  /** Drop the current token (refused by a service) and get a new one. */
  reauthenticate(reason: string): Promise<string>
  /** The project the token is scoped to (its images are ours). */
  projectId(): Promise<string | undefined>
  /** When the current token runs out, if known. */
  tokenExpiry?(): Date | undefined
}

function userRef(auth: {
  username?: string
  userId?: string
  userDomainName?: string
  userDomainId?: string
}) {
  if (auth.userId) return { id: auth.userId }
  const domain = auth.userDomainId ? { id: auth.userDomainId } : { name: auth.userDomainName }
  return { name: auth.username, domain }
}

export function passwordAuthBody(auth: PasswordAuth): unknown {
  const project = auth.projectId
    ? { id: auth.projectId }
    : {
        name: auth.projectName,
        domain: auth.projectDomainId ? { id: auth.projectDomainId } : { name: auth.projectDomainName }
      }
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { ...userRef(auth), password: auth.password } } },
      scope: { project }
    }
  }
}

/** No scope: Keystone answers 401 when an application credential asks for one. */
export function applicationCredentialAuthBody(auth: ApplicationCredentialAuth): unknown {
  const credential = auth.id
    ? { id: auth.id, secret: auth.secret }
    : { name: auth.name, secret: auth.secret, user: userRef(auth) }
  return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } }
}

/**
 * Trade a given token (OS_TOKEN) for one of our own, scoped to the project when one is given. Ours is
 * revoked with the run's other tokens; the given one never is (Keystone revokes by audit id, and ours
 * has its own).
 */
export function tokenAuthBody(auth: TokenAuth): unknown {
  const identity = { methods: ['token'], token: { id: auth.token } }
  if (!auth.projectId && !auth.projectName) return { auth: { identity } }
  const project = auth.projectId
    ? { id: auth.projectId }
    : {
        name: auth.projectName,
        domain: auth.projectDomainId ? { id: auth.projectDomainId } : { name: auth.projectDomainName }
      }
  return { auth: { identity, scope: { project } } }
}

const CREDENTIAL_HINTS: Record<OpenStackSettings['auth']['type'], string> = {
  password: 'user, password, domains and project',
  v3applicationcredential: 'credential id/name and secret',
  v3token: 'token (expired or revoked?) and the project'
}

function authBody(auth: OpenStackSettings['auth']): unknown {
  if (auth.type === 'password') return passwordAuthBody(auth)
  if (auth.type === 'v3token') return tokenAuthBody(auth)
  return applicationCredentialAuthBody(auth)
}

interface TokenBody {
  token?: {
    expires_at?: string
    issued_at?: string
    user?: { id?: string; name?: string }
    project?: { id?: string; name?: string }
    catalog?: CatalogService[]
  }
}

/** Ask Keystone for a token. Errors name who we tried to be, never the secret. */
export async function issueToken(http: HttpClient, settings: OpenStackSettings): Promise<Token> {
  const auth = settings.auth
  const url = tokensUrl(auth.authUrl)
  const json = authBody(auth)
  const who = describeAuth(settings)
  let response
  try {
    response = await http.request({ method: 'POST', url, json }, `Keystone authentication (${who})`)
  } catch (error) {
    // 401: wrong user/password/secret; 404: an application credential Keystone does not know (or deleted)
    if (error instanceof OpenStackError && (error.status === 401 || error.status === 404)) {
      throw new OpenStackError(
        `Keystone refused the credentials (${who}): ${error.serverMessage ?? 'unauthorized'}` +
          ` — check the ${CREDENTIAL_HINTS[auth.type]}` +
          (error.requestId ? ` (request ${error.requestId})` : ''),
        error.status,
        error.method,
        error.url,
        error.requestId,
        error.serverMessage
      )
    }
    throw error
  }
  const header = response.headers['x-subject-token']
  const value = Array.isArray(header) ? header[0] : header
  if (!value) throw new Error(`Keystone answered ${url} without an X-Subject-Token header`)
  let body: TokenBody
  try {
    body = JSON.parse(response.text) as TokenBody
  } catch {
    throw new Error(`Keystone answered ${url} with a body that is not JSON`)
  }
  const token = body.token ?? {}
  const expiresAt = token.expires_at ? new Date(token.expires_at) : undefined
  if (!expiresAt || Number.isNaN(expiresAt.getTime())) {
    throw new Error(`Keystone's token from ${url} has no valid expires_at`)
  }
  return {
    value,
    expiresAt,
    ...(token.issued_at ? { issuedAt: new Date(token.issued_at) } : {}),
    userId: token.user?.id ?? '',
    ...(token.user?.name ? { userName: token.user.name } : {}),
    ...(token.project?.id ? { projectId: token.project.id } : {}),
    ...(token.project?.name ? { projectName: token.project.name } : {}),
    catalog: token.catalog ?? []
  }
}

/** The Glance v2 root of an endpoint as catalogs give it (`http://h:9292`, `.../image`, `.../v2/`). */
export function normaliseImageEndpoint(url: string): string {
  const parsed = new URL(url.trim())
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`the image endpoint must be an http(s) URL, not '${url}'`)
  }
  const base = parsed.pathname.replace(/\/+$/, '').replace(/\/v\d+(\.\d+)?$/, '')
  parsed.pathname = `${base}/v2`
  parsed.search = ''
  parsed.hash = ''
  return parsed.toString()
}

/** The URL of `type` in the catalog for the interface and (when given) region. */
export function findEndpoint(
  catalog: CatalogService[],
  type: string,
  iface: Interface,
  region?: string
): string {
  const services = catalog.filter(service => service.type === type)
  if (services.length === 0) {
    const types = [...new Set(catalog.map(service => service.type))].join(', ') || 'nothing'
    throw new Error(`the service catalog has no '${type}' service (it has: ${types})`)
  }
  const endpoints = services.flatMap(service => service.endpoints ?? [])
  const matching = endpoints.filter(
    endpoint =>
      endpoint.interface.replace(/URL$/, '') === iface &&
      (!region || endpoint.region_id === region || endpoint.region === region)
  )
  const chosen = matching[0]
  if (!chosen) {
    const offered = endpoints.map(
      endpoint => `${endpoint.interface}@${endpoint.region_id ?? endpoint.region ?? '-'}`
    )
    throw new Error(
      `the '${type}' service has no ${iface} endpoint${region ? ` in region ${region}` : ''} ` +
        `(it has: ${offered.join(', ') || 'none'}); set the interface (OS_INTERFACE) or region (OS_REGION_NAME)`
    )
  }
  return chosen.url
}

/**
 * Tokens and the catalog of one set of credentials; re-authenticates when a token runs out. Every
 * token it obtained is masked at once and kept until revoke() (a replaced token may still be in use
 * by a request under way).
 */
export class KeystoneSession implements TokenSource {
  private current?: Token
  private pending?: Promise<Token>
  private issued: string[] = []
  private listeners: ((tokens: readonly string[]) => void)[] = []

  constructor(
    readonly settings: OpenStackSettings,
    private readonly http: HttpClient = new HttpClient(settings),
    private readonly log: Logger = { info: () => {}, warning: () => {} },
    private readonly now: () => number = Date.now
  ) {}

  /** Authenticate (again), once even when asked concurrently. */
  async authenticate(): Promise<Token> {
    this.pending ??= issueToken(this.http, this.settings)
      .then(token => {
        this.log.setSecret?.(token.value)
        this.current = token
        this.issued.push(token.value)
        for (const listener of this.listeners) listener([...this.issued])
        const scope = token.projectName ?? token.projectId
        const proxy = proxyFor(new URL(this.settings.auth.authUrl))
        this.log.info(
          `Keystone: authenticated as ${token.userName ?? token.userId}${scope ? ` in project ${scope}` : ''}` +
            ` (${this.settings.auth.type}), token valid until ${token.expiresAt.toISOString()}` +
            (proxy ? `, through the proxy ${describeProxy(proxy)}` : '')
        )
        return token
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }

  tokenExpiry(): Date | undefined {
    return this.current?.expiresAt
  }

  /** The token in use, if any (no authentication). */
  currentToken(): string | undefined {
    return this.current?.value
  }

  /** Every token obtained and not yet revoked, oldest first. */
  issuedTokens(): readonly string[] {
    return [...this.issued]
  }

  /** Follow the tokens obtained (with `issuedTokens()` each time one is added); returns the unsubscribe. */
  onTokens(listener: (tokens: readonly string[]) => void): () => void {
    this.listeners.push(listener)
    return () => {
      this.listeners = this.listeners.filter(candidate => candidate !== listener)
    }
  }

  async token(minValidityMs = 5 * 60_000): Promise<string> {
    if (!this.current || this.current.expiresAt.getTime() - this.now() < minValidityMs) {
      if (this.current) {
        this.log.info(
          `Keystone: the token expires at ${this.current.expiresAt.toISOString()}, too soon; re-authenticating`
        )
      }
      await this.authenticate()
    }
    return (this.current as Token).value
  }

  async reauthenticate(reason: string): Promise<string> {
    this.log.info(`Keystone: ${reason}; re-authenticating`)
    this.current = undefined
    return (await this.authenticate()).value
  }

  async projectId(): Promise<string | undefined> {
    if (!this.current) await this.authenticate()
    return this.current?.projectId
  }

  /** Glance's v2 root: the explicit override, or the catalog's `image` endpoint. */
  async imageEndpoint(): Promise<string> {
    if (this.settings.imageEndpoint) return normaliseImageEndpoint(this.settings.imageEndpoint)
    if (!this.current) await this.authenticate()
    const url = findEndpoint(
      (this.current as Token).catalog,
      'image',
      this.settings.interface,
      this.settings.regionName
    )
    const plainHttp = catalogEndpointProblem(
      url,
      this.settings.auth.authUrl,
      this.settings.allowInsecureHttp ?? false
    )
    if (plainHttp) throw new Error(plainHttp)
    return normaliseImageEndpoint(url)
  }

  /** Revoke every token this session obtained (end of a run); failures are only logged. */
  async revoke(): Promise<void> {
    const tokens = this.issued
    this.issued = []
    this.current = undefined
    if (tokens.length === 0) return
    const revoked = await revokeTokens(this.http, this.settings.auth.authUrl, tokens, this.log)
    this.log.info(`Keystone: revoked ${revoked} of ${tokens.length} token(s) of this session`)
  }
}
