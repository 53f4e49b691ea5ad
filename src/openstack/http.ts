// HTTP for the OpenStack clients: node:http/https with keep-alive, a CA bundle or `insecure`, the
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY variables (proxy.ts), 429/503 Retry-After honoured within bounds,
// typed errors that carry what a bug report needs (status, method, URL, request id, the server's
// message) and never a header value. Uploads stream a file with an explicit Content-Length (Glance
// under uwsgi or mod_wsgi refuses chunked bodies; Node 20's fetch would hold a streamed body in memory).
import { createHash, type Hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import { proxiedPlainHttpProblem, proxyAgent, proxyFor } from './proxy.js'

export interface TlsSettings {
  /** Path of a PEM bundle of trusted CAs. */
  cacert?: string
  insecure?: boolean
  /** Plain http may leave this machine (allow-insecure-http): here, through a proxy elsewhere. */
  allowInsecureHttp?: boolean
}

export interface HttpRequest {
  method: string
  url: string
  headers?: Record<string, string>
  /** A JSON body (serialised here) or raw text. */
  json?: unknown
  body?: string
  /** Per-request inactivity timeout. */
  timeoutMs?: number
  /** Statuses that are not errors (2xx always are not). */
  accept?: number[]
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  text: string
}

export interface UploadProgress {
  bytes: number
  total: number
  percent: number
  /** Mean rate since the start, MiB/s. */
  mibPerSecond: number
  elapsedMs: number
}

export interface UploadRequest {
  method: 'PUT' | 'POST'
  url: string
  headers: Record<string, string>
  file: string
  size: number
  onProgress?: (progress: UploadProgress) => void
  progressIntervalMs?: number
  /** Abort when no byte moves for this long. */
  idleTimeoutMs?: number
  /** Only sha512 (the file's sha256 is known and sha512 proves the same bytes): one hash less per byte. */
  sha512Only?: boolean
  /**
   * No hashing at all: the digests are known (the build's) and the server's own hash of what it
   * received is compared with them afterwards. Saves a hash of every byte on the sending side.
   */
  noHash?: boolean
  /** Stop sending (the connection is closed) and reject with the signal's reason. */
  signal?: AbortSignal
}

export interface UploadResult {
  response: HttpResponse
  bytes: number
  /** Empty with `sha512Only` or `noHash`. */
  sha256: string
  /** Empty with `noHash`. */
  sha512: string
  elapsedMs: number
}

const MiB = 1024 * 1024
const DEFAULT_TIMEOUT_MS = 120_000
/** Read size of an upload: large reads mean fewer writes into the socket per MiB. */
const UPLOAD_CHUNK = MiB
/** Statuses whose Retry-After says "not processed, come back then". */
const RETRY_AFTER_STATUS = new Set([429, 503])
const REQUEST_ID_HEADERS = ['x-openstack-request-id', 'x-compute-request-id', 'openstack-request-id']

/** An HTTP error from an OpenStack service (or the network on the way to it). */
export class OpenStackError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly method: string,
    readonly url: string,
    readonly requestId: string | undefined,
    readonly serverMessage: string | undefined
  ) {
    super(message)
    this.name = 'OpenStackError'
  }

  static fromResponse(method: string, url: string, response: HttpResponse, context?: string): OpenStackError {
    const serverMessage = parseErrorBody(response.headers['content-type'], response.text)
    const requestId = requestIdOf(response.headers)
    const retryAfter = RETRY_AFTER_STATUS.has(response.status) ? response.headers['retry-after'] : undefined
    const parts = [
      `${context ? `${context}: ` : ''}${method} ${redactUrl(url)} returned ${response.status}`,
      serverMessage ? `: ${serverMessage}` : '',
      retryAfter ? ` (it asked to retry after ${String(retryAfter)}: beyond our wait cap or attempts)` : '',
      requestId ? ` (request ${requestId})` : ''
    ]
    return new OpenStackError(
      parts.join(''),
      response.status,
      method,
      redactUrl(url),
      requestId,
      serverMessage
    )
  }

  static network(method: string, url: string, cause: Error, context?: string): OpenStackError {
    const code = (cause as NodeJS.ErrnoException).code
    const what = code ? `${code}${cause.message.includes(code) ? '' : ` (${cause.message})`}` : cause.message
    const error = new OpenStackError(
      `${context ? `${context}: ` : ''}${method} ${redactUrl(url)} failed: ${what}`,
      undefined,
      method,
      redactUrl(url),
      undefined,
      undefined
    )
    return error
  }

  /** A connection-level failure (refused, reset, timed out) rather than an HTTP answer. */
  get isNetwork(): boolean {
    return this.status === undefined
  }
}

export function requestIdOf(headers: http.IncomingHttpHeaders): string | undefined {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers[name]
    if (typeof value === 'string' && value) return value
    if (Array.isArray(value) && value[0]) return value[0]
  }
  return undefined
}

/** No user info or query secrets in URLs we print. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.username || parsed.password) {
      parsed.username = ''
      parsed.password = ''
    }
    return parsed.toString()
  } catch {
    return url
  }
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
}

function stripHtml(html: string): string {
  return decodeEntities(
    html
      .replace(/<head[\s\S]*?<\/head>/gi, ' ')
      .replace(/<title[\s\S]*?<\/title>/gi, ' ')
      .replace(/<h1[\s\S]*?<\/h1>/gi, ' ')
      .replace(/<br\s*\/?>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
  )
    .replace(/\s+/g, ' ')
    .trim()
}

function firstMessage(value: unknown, depth = 0): string | undefined {
  if (depth > 3 || typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  for (const key of ['message', 'faultstring', 'detail', 'error_description', 'title']) {
    const candidate = record[key]
    if (typeof candidate === 'string' && candidate.trim()) return candidate
  }
  if (typeof record.error === 'string' && record.error.trim()) return record.error
  // Keystone {error: {message}}, Nova-style {badRequest: {message}}, lists of errors
  for (const nested of Object.values(record)) {
    const found = Array.isArray(nested) ? firstMessage(nested[0], depth + 1) : firstMessage(nested, depth + 1)
    if (found) return found
  }
  return undefined
}

/** The human part of an OpenStack error body: Keystone/Glance JSON, webob HTML, or plain text. */
export function parseErrorBody(contentType: string | undefined, body: string): string | undefined {
  const text = body.trim()
  if (!text) return undefined
  const type = (contentType ?? '').toLowerCase()
  let message: string | undefined
  if (type.includes('json') || text.startsWith('{')) {
    try {
      message = firstMessage(JSON.parse(text))
      // webob puts HTML line breaks into JSON messages too
      if (message && /<[a-z][^>]*>/i.test(message)) message = stripHtml(message)
    } catch {
      message = undefined
    }
  }
  if (message === undefined && (type.includes('html') || /^<(!doctype|html|head|body)/i.test(text))) {
    const stripped = stripHtml(text)
    if (stripped) message = stripped
    else {
      const title = /<title>([\s\S]*?)<\/title>/i.exec(text)?.[1]
      message = title ? decodeEntities(title).trim() : undefined
    }
  }
  if (message === undefined) message = text.replace(/\s+/g, ' ')
  message = message.trim()
  return message.length > 500 ? `${message.slice(0, 500)}…` : message || undefined
}

const RETRYABLE_STATUS = new Set([502, 503, 504])
const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

/**
 * The wait a Retry-After header asks for, in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable; 0 for a date in the past.
 */
export function retryAfterMs(headers: http.IncomingHttpHeaders, now = Date.now()): number | undefined {
  const raw = headers['retry-after']
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim()
  if (!value) return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined
  return Math.max(0, date - now)
}

export interface RetryPolicy {
  /** Attempts in all (the first included): network errors and 502/503/504 for idempotent requests,
   *  and 429/503 with Retry-After for any request whose body can be sent again. */
  attempts?: number
  /** Back-off between attempts without Retry-After (times the attempt number). */
  delayMs?: number
  /** The longest Retry-After we wait; a server that asks for more gets its answer reported instead. */
  retryAfterCapMs?: number
}

export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  private readonly httpsAgent: https.Agent
  private readonly proxyAgents = new Map<string, http.Agent>()
  private readonly ca: Buffer | undefined
  private readonly attempts: number
  private readonly retryDelayMs: number
  private readonly retryAfterCapMs: number

  constructor(
    private readonly tls: TlsSettings = {},
    retry: RetryPolicy = {}
  ) {
    this.attempts = retry.attempts ?? 3
    this.retryDelayMs = retry.delayMs ?? 1000
    this.retryAfterCapMs = retry.retryAfterCapMs ?? 120_000
    this.ca = tls.cacert ? readFileSync(tls.cacert) : undefined
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      rejectUnauthorized: !tls.insecure,
      ...(this.ca ? { ca: this.ca } : {})
    })
  }

  close(): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
    for (const agent of this.proxyAgents.values()) agent.destroy()
  }

  /**
   * How to reach `url`: directly, or through the proxy the environment names for it (read at each
   * request, as curl does). Proxied https requests carry the target's TLS settings themselves.
   */
  private routeFor(url: URL): http.RequestOptions & https.RequestOptions {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Error(`unsupported URL scheme ${url.protocol} in ${redactUrl(url.toString())}`)
    }
    const proxy = proxyFor(url)
    if (!proxy) return { agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent }
    const problem = proxiedPlainHttpProblem(url, proxy, this.tls.allowInsecureHttp ?? false)
    if (problem) throw new Error(problem)
    const key = `${url.protocol}${proxy.href}`
    let agent = this.proxyAgents.get(key)
    if (!agent) {
      agent = proxyAgent(url, proxy, { keepAlive: true, maxSockets: 4 })
      this.proxyAgents.set(key, agent)
    }
    if (url.protocol === 'http:') return { agent }
    return { agent, rejectUnauthorized: !this.tls.insecure, ...(this.ca ? { ca: this.ca } : {}) }
  }

  private transport(url: URL): typeof http | typeof https {
    return url.protocol === 'https:' ? https : http
  }

  /**
   * The wait before another attempt after `response`, or undefined to stop. 429/503 with a
   * Retry-After within the cap: that wait (any method: the server did not process the request and our
   * body can be sent again). 502/503/504 otherwise: back-off, idempotent methods only.
   */
  private retryWait(method: string, response: HttpResponse, attempt: number): number | undefined {
    if (attempt >= this.attempts) return undefined
    const asked = RETRY_AFTER_STATUS.has(response.status) ? retryAfterMs(response.headers) : undefined
    if (asked !== undefined) return asked <= this.retryAfterCapMs ? asked : undefined
    if (response.status === 429) return undefined
    return IDEMPOTENT.has(method) && RETRYABLE_STATUS.has(response.status)
      ? this.retryDelayMs * attempt
      : undefined
  }

  /** One request; resolves with the response whatever its status (network errors reject). */
  async send(request: HttpRequest): Promise<HttpResponse> {
    // a proxy that may not be used is a setting to fix, not a failure to retry
    const route = this.routeFor(new URL(request.url))
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse
      try {
        response = await this.sendOnce(request, route)
      } catch (error) {
        if (!IDEMPOTENT.has(request.method) || attempt >= this.attempts) throw error
        await sleep(this.retryDelayMs * attempt)
        continue
      }
      const wait = this.retryWait(request.method, response, attempt)
      if (wait === undefined) return response
      await sleep(wait)
    }
  }

  /** A request whose non-2xx answers (other than `accept`) become OpenStackErrors. */
  async request(request: HttpRequest, context?: string): Promise<HttpResponse> {
    const response = await this.send(request)
    if ((response.status >= 200 && response.status < 300) || request.accept?.includes(response.status)) {
      return response
    }
    throw OpenStackError.fromResponse(request.method, request.url, response, context)
  }

  private sendOnce(request: HttpRequest, route: http.RequestOptions): Promise<HttpResponse> {
    const url = new URL(request.url)
    const headers: Record<string, string> = { Accept: 'application/json', ...request.headers }
    let body: Buffer | undefined
    if (request.json !== undefined) {
      body = Buffer.from(JSON.stringify(request.json))
      headers['Content-Type'] ??= 'application/json'
    } else if (request.body !== undefined) {
      body = Buffer.from(request.body)
    }
    if (body) headers['Content-Length'] = String(body.length)
    else if (request.method !== 'GET' && request.method !== 'HEAD') headers['Content-Length'] = '0'

    return new Promise<HttpResponse>((resolve, reject) => {
      const req = this.transport(url).request(url, {
        method: request.method,
        headers,
        ...route
      })
      req.setTimeout(request.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => {
        req.destroy(
          Object.assign(new Error(`no answer within ${(request.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`), {
            code: 'ETIMEDOUT'
          })
        )
      })
      req.on('error', error => reject(OpenStackError.network(request.method, request.url, error)))
      req.on('response', res => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', error => reject(OpenStackError.network(request.method, request.url, error)))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8')
          })
        )
      })
      req.end(body)
    })
  }

  /**
   * Stream a file as the request body with an explicit Content-Length, hashing it in the same read
   * (sha256 and sha512, sha512 only, or not at all with `noHash`). A 429/503 with a Retry-After within
   * the cap sends the file again after that wait. Resolves with the response whatever its status; rejects on network errors, on a
   * file that is not `size` bytes, and after `idleTimeoutMs` without progress.
   */
  async upload(request: UploadRequest): Promise<UploadResult> {
    const route = this.routeFor(new URL(request.url))
    for (let attempt = 1; ; attempt++) {
      const result = await this.uploadOnce(request, route)
      // 429/503 with Retry-After: the data was refused, not stored; the file is read again
      const asked = RETRY_AFTER_STATUS.has(result.response.status)
        ? retryAfterMs(result.response.headers)
        : undefined
      if (asked === undefined || asked > this.retryAfterCapMs || attempt >= this.attempts) return result
      await sleep(asked, undefined, request.signal ? { signal: request.signal } : {}).catch(
        (error: unknown) => {
          throw request.signal?.aborted ? request.signal.reason : error
        }
      )
    }
  }

  private uploadOnce(request: UploadRequest, route: http.RequestOptions): Promise<UploadResult> {
    const { signal } = request
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    const url = new URL(request.url)
    const started = Date.now()
    const sha256: Hash | undefined = request.sha512Only || request.noHash ? undefined : createHash('sha256')
    const sha512: Hash | undefined = request.noHash ? undefined : createHash('sha512')
    let bytes = 0
    const progress = (): UploadProgress => {
      const elapsedMs = Date.now() - started
      return {
        bytes,
        total: request.size,
        percent: request.size > 0 ? (100 * bytes) / request.size : 100,
        mibPerSecond: elapsedMs > 0 ? bytes / MiB / (elapsedMs / 1000) : 0,
        elapsedMs
      }
    }
    const headers = { ...request.headers, 'Content-Length': String(request.size) }

    return new Promise<UploadResult>((resolve, reject) => {
      const req = this.transport(url).request(url, {
        method: request.method,
        headers: { Accept: 'application/json', ...headers },
        ...route
      })
      let settled = false
      const timer = request.onProgress
        ? setInterval(() => request.onProgress?.(progress()), request.progressIntervalMs ?? 10_000)
        : undefined
      timer?.unref()
      const finish = (error: Error | undefined, response?: HttpResponse): void => {
        if (settled) return
        settled = true
        if (timer) clearInterval(timer)
        signal?.removeEventListener('abort', aborted)
        if (error) {
          req.destroy()
          reject(
            error instanceof OpenStackError || error === signal?.reason
              ? error
              : OpenStackError.network(request.method, request.url, error)
          )
          return
        }
        const result = response as HttpResponse
        // an early refusal: stop sending the rest of the file
        if (bytes < request.size) req.destroy()
        request.onProgress?.(progress())
        resolve({
          response: result,
          bytes,
          sha256: sha256?.digest('hex') ?? '',
          sha512: sha512?.digest('hex') ?? '',
          elapsedMs: Date.now() - started
        })
      }

      // cancelled (another target failed, say): close the connection, the reason is the answer
      const aborted = (): void => finish(signal?.reason as Error)
      signal?.addEventListener('abort', aborted, { once: true })

      const idle = request.idleTimeoutMs ?? DEFAULT_TIMEOUT_MS
      req.setTimeout(idle, () => {
        req.destroy(Object.assign(new Error(`no progress for ${idle / 1000} s`), { code: 'ETIMEDOUT' }))
      })
      req.on('error', error => finish(error))
      req.on('response', res => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', error => finish(error))
        res.on('end', () => {
          const response = {
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8')
          }
          // An early answer (401, 413...) while we still send: the answer is what matters.
          if (bytes < request.size && response.status < 300) {
            finish(
              new Error(`the server answered ${response.status} after ${bytes} of ${request.size} bytes`)
            )
          } else finish(undefined, response)
        })
      })

      sendFile(request.file, request.size, req, chunk => {
        // after an early answer the digests are final; the rest of the file is not sent
        if (settled) return false
        sha256?.update(chunk)
        sha512?.update(chunk)
        bytes += chunk.length
        return true
      }).catch((error: Error) => {
        // the server may answer and close while we write: let its answer win for a moment
        setTimeout(() => finish(error), 500).unref()
      })
    })
  }
}

/** Resolves once `chunk` is in the socket (the kernel has it): its buffer may then be read into again. */
function written(req: http.ClientRequest, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => req.write(chunk, error => (error ? reject(error) : resolve())))
}

/**
 * Send exactly `size` bytes of `file` as the body of `req`, then end it. Reads go into two buffers
 * used in turn (one is read into while the other is being written): a fresh buffer per chunk, as a
 * read stream allocates, costs the kernel a mapping and page faults per MiB, which doubled the system
 * time of an upload here. `onChunk` sees each chunk before it is sent; false stops sending.
 */
async function sendFile(
  file: string,
  size: number,
  req: http.ClientRequest,
  onChunk: (chunk: Buffer) => boolean
): Promise<void> {
  const handle = await open(file, 'r')
  try {
    const buffers = [Buffer.allocUnsafeSlow(UPLOAD_CHUNK), Buffer.allocUnsafeSlow(UPLOAD_CHUNK)]
    const inFlight: (Promise<void> | undefined)[] = [undefined, undefined]
    let position = 0
    for (let turn = 0; position < size; turn = 1 - turn) {
      await inFlight[turn]
      const buffer = buffers[turn] as Buffer
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position)
      if (bytesRead === 0)
        throw new Error(`${file} changed while uploading: read ${position} bytes, expected ${size}`)
      position += bytesRead
      const chunk = buffer.subarray(0, bytesRead)
      if (!onChunk(chunk)) return
      const write = written(req, chunk)
      // awaited at the next turn or at the end; a failure meanwhile must not go unhandled
      write.catch(() => undefined)
      inFlight[turn] = write
    }
    await Promise.all(inFlight)
    const { bytesRead: beyond } = await handle.read(Buffer.alloc(1), 0, 1, size)
    if (beyond > 0) throw new Error(`${file} changed while uploading: it is longer than ${size} bytes`)
    req.end()
  } finally {
    await handle.close()
  }
}
