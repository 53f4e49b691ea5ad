// A fake of GitHub's Actions cache service v2 on 127.0.0.1, speaking the wire protocol the real
// @actions/cache (6.x) client uses:
//
// - Twirp JSON at ACTIONS_RESULTS_URL: POST /twirp/github.actions.results.api.v1.CacheService/<Method>
//   with `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`; request fields in proto names (`key`,
//   `version`, `restore_keys`, `size_bytes` as a string), responses likewise (`ok`,
//   `signed_upload_url`, `signed_download_url`, `matched_key`, `entry_id`, `message`); errors as Twirp
//   error JSON `{"code","msg"}` with the matching HTTP status (409 already_exists on a duplicate key).
// - Azure-Blob-like storage behind the signed URLs (path style, as the Azure SDK uses for an IP host:
//   /<account>/<container>/<blob>?...&sig=...): `PUT` with `x-ms-blob-type: BlockBlob` (single shot),
//   `PUT ?comp=block&blockid=` + `PUT ?comp=blocklist` (XML block list), `GET`/`HEAD` with or without
//   `Range`/`x-ms-range`.
//
// Lookup as the service does it, among finalized entries of the same version: the key exactly, then
// the newest entry whose key starts with the key, then each restore key in order (newest entry whose
// key starts with it). Entries are immutable: a second CreateCacheEntry for a key+version is a 409.
//
// Start it with startCacheService() and hand `env` to the client (in-process or a child process).
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'

export const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/'
const ACCOUNT = 'fakecacheaccount'
const CONTAINER = 'actions-cache'

export type FailMode =
  /** Serve normally. After 'refuse', listens again on the same port. */
  | 'none'
  /** Every request (Twirp and blob) answers 500. */
  | '500'
  /** Twirp calls answer 500, blob storage works. */
  | 'twirp-500'
  /** Blob storage answers 500, Twirp works. */
  | 'blob-500'
  /** Stop listening: connections are refused (ECONNREFUSED). */
  | 'refuse'

export interface RecordedRequest {
  method: string
  /** Path without the query. */
  path: string
  query: Record<string, string>
  kind: 'twirp' | 'blob' | 'other'
  /** Twirp method name (GetCacheEntryDownloadURL, CreateCacheEntry, FinalizeCacheEntryUpload). */
  rpc?: string
  /** Parsed Twirp request body. */
  body?: Record<string, unknown>
  /** Blob operation: put-blob, put-block, put-block-list, get, head. */
  op?: string
  /** Request body bytes (blob uploads). */
  bytes: number
  range?: string
  status: number
}

export interface CacheEntry {
  id: number
  key: string
  version: string
  createdAt: number
  finalized: boolean
  /** As given to FinalizeCacheEntryUpload. */
  sizeBytes?: number
  blobName: string
  data?: Buffer
  /** How the blob was written: one PUT, or staged blocks plus a block list. */
  uploadedBy?: 'single-shot' | 'block-list'
  blocksCommitted: number
}

export interface CacheService {
  /** ACTIONS_RESULTS_URL (ends with '/'). */
  url: string
  port: number
  token: string
  /** What a client process needs: ACTIONS_CACHE_SERVICE_V2, ACTIONS_RESULTS_URL, ACTIONS_RUNTIME_TOKEN. */
  env: Record<string, string>
  /** Every request answered, in order (live). */
  requests: RecordedRequest[]
  /** Every entry created, finalized or not (live). */
  entries: CacheEntry[]
  /** Requests of one Twirp method, or of one blob operation. */
  count(what: string): number
  fail(mode: FailMode): Promise<void>
  /** Forget every entry and request (and serve normally again). */
  reset(): Promise<void>
  close(): Promise<void>
}

interface Pending {
  entry: CacheEntry
  blocks: Map<string, Buffer>
}

function twirpError(res: http.ServerResponse, status: number, code: string, msg: string): number {
  res.writeHead(status, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify({ code, msg }))
  return status
}

function json(res: http.ServerResponse, body: unknown): number {
  res.writeHead(200, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify(body))
  return 200
}

function azureHeaders(extra: Record<string, string | number> = {}): Record<string, string | number> {
  return {
    'x-ms-request-id': randomBytes(8).toString('hex'),
    'x-ms-version': '2025-01-05',
    Date: new Date().toUTCString(),
    ...extra
  }
}

function azureError(res: http.ServerResponse, status: number, code: string, message: string): number {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
  res.writeHead(status, azureHeaders({ 'Content-Type': 'application/xml', 'x-ms-error-code': code }))
  res.end(xml)
  return status
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` against a length; undefined when unsatisfiable. */
export function parseRange(header: string, length: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match) return undefined
  const [, from, to] = match as unknown as [string, string, string]
  let start: number
  let end: number
  if (from === '') {
    if (to === '') return undefined
    start = Math.max(0, length - Number(to))
    end = length - 1
  } else {
    start = Number(from)
    end = to === '' ? length - 1 : Math.min(Number(to), length - 1)
  }
  if (start >= length || end < start) return undefined
  return { start, end }
}

function blockIds(xml: string): string[] {
  const ids: string[] = []
  for (const match of xml.matchAll(/<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g))
    ids.push(match[2] as string)
  return ids
}

export async function startCacheService(options: { token?: string } = {}): Promise<CacheService> {
  const token = options.token ?? `fake-runtime-token-${randomBytes(6).toString('hex')}`
  const requests: RecordedRequest[] = []
  const entries: CacheEntry[] = []
  const pending = new Map<string, Pending>()
  const signatures = new Map<string, { read: string; write: string }>()
  let mode: FailMode = 'none'
  let nextId = 1
  let base = ''

  const versionOf = (body: Record<string, unknown>, field: string) =>
    typeof body[field] === 'string' ? (body[field] as string) : ''

  function lookup(key: string, restoreKeys: string[], version: string): CacheEntry | undefined {
    const ready = entries.filter(e => e.finalized && e.version === version)
    const newest = (list: CacheEntry[]) =>
      list.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)[0] as CacheEntry | undefined
    const exact = newest(ready.filter(e => e.key === key))
    if (exact) return exact
    for (const prefix of [key, ...restoreKeys]) {
      const found = newest(ready.filter(e => e.key.startsWith(prefix)))
      if (found) return found
    }
    return undefined
  }

  function signedUrl(entry: CacheEntry, access: 'read' | 'write'): string {
    const sig = signatures.get(entry.blobName) as { read: string; write: string }
    const expiry = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z')
    const query = new URLSearchParams({
      sv: '2025-01-05',
      se: expiry,
      sr: 'b',
      sp: access === 'read' ? 'r' : 'cw',
      sig: sig[access]
    })
    return `${base}${ACCOUNT}/${CONTAINER}/${entry.blobName}?${query}`
  }

  async function twirp(req: http.IncomingMessage, res: http.ServerResponse, record: RecordedRequest) {
    const rpc = record.path.slice(TWIRP_PREFIX.length)
    record.rpc = rpc
    const raw = await readBody(req)
    if (req.method !== 'POST') return twirpError(res, 404, 'bad_route', `unsupported method ${req.method}`)
    if (req.headers.authorization !== `Bearer ${token}`) {
      return twirpError(res, 401, 'unauthenticated', 'missing or invalid bearer token')
    }
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>
    } catch {
      return twirpError(res, 400, 'malformed', 'the request body is not JSON')
    }
    record.body = body
    if (mode === '500' || mode === 'twirp-500') return twirpError(res, 500, 'internal', 'injected failure')
    const key = versionOf(body, 'key')
    const version = versionOf(body, 'version')
    if (!key || !version) return twirpError(res, 400, 'invalid_argument', 'key and version are required')
    switch (rpc) {
      case 'GetCacheEntryDownloadURL': {
        const restoreKeys = Array.isArray(body.restore_keys) ? (body.restore_keys as string[]) : []
        const found = lookup(key, restoreKeys, version)
        if (!found) return json(res, { ok: false, signed_download_url: '', matched_key: '' })
        return json(res, { ok: true, signed_download_url: signedUrl(found, 'read'), matched_key: found.key })
      }
      case 'CreateCacheEntry': {
        if (entries.some(e => e.key === key && e.version === version)) {
          return twirpError(
            res,
            409,
            'already_exists',
            'cache entry with the same key, version, and scope already exists'
          )
        }
        const entry: CacheEntry = {
          id: nextId++,
          key,
          version,
          createdAt: Date.now(),
          finalized: false,
          blobName: `${randomBytes(12).toString('hex')}.tzst`,
          blocksCommitted: 0
        }
        entries.push(entry)
        signatures.set(entry.blobName, {
          read: randomBytes(16).toString('base64'),
          write: randomBytes(16).toString('base64')
        })
        pending.set(entry.blobName, { entry, blocks: new Map() })
        return json(res, { ok: true, signed_upload_url: signedUrl(entry, 'write') })
      }
      case 'FinalizeCacheEntryUpload': {
        const entry = entries.find(e => e.key === key && e.version === version && !e.finalized)
        if (!entry) return twirpError(res, 404, 'not_found', 'no cache entry being created for this key')
        const size = Number(body.size_bytes ?? 0)
        if (!entry.data) return json(res, { ok: false, entry_id: '0', message: 'no blob was uploaded' })
        if (entry.data.length !== size) {
          return json(res, {
            ok: false,
            entry_id: '0',
            message: `uploaded ${entry.data.length} bytes, size_bytes says ${size}`
          })
        }
        entry.sizeBytes = size
        entry.finalized = true
        entry.createdAt = Date.now()
        pending.delete(entry.blobName)
        return json(res, { ok: true, entry_id: String(entry.id) })
      }
      default:
        return twirpError(res, 404, 'bad_route', `no such method ${rpc}`)
    }
  }

  async function blob(req: http.IncomingMessage, res: http.ServerResponse, record: RecordedRequest) {
    const [, account, container, blobName] = record.path.split('/')
    const body = req.method === 'PUT' ? await readBody(req) : Buffer.alloc(0)
    if (req.method !== 'PUT') await readBody(req)
    record.bytes = body.length
    const { comp, blockid, sig } = record.query
    record.op =
      req.method === 'GET'
        ? 'get'
        : req.method === 'HEAD'
          ? 'head'
          : comp === 'block'
            ? 'put-block'
            : comp === 'blocklist'
              ? 'put-block-list'
              : 'put-blob'
    if (mode === '500' || mode === 'blob-500')
      return azureError(res, 500, 'InternalError', 'injected failure')
    const signature = blobName ? signatures.get(blobName) : undefined
    if (account !== ACCOUNT || container !== CONTAINER || !blobName || !signature) {
      return azureError(res, 404, 'BlobNotFound', 'The specified blob does not exist.')
    }
    const access = req.method === 'PUT' ? 'write' : 'read'
    if (sig !== signature[access]) {
      return azureError(res, 403, 'AuthenticationFailed', `the signature does not grant ${access} access`)
    }
    if (req.method === 'PUT') {
      const open = pending.get(blobName)
      if (!open) return azureError(res, 403, 'AuthorizationFailure', 'the upload URL is no longer valid')
      const length = Number(req.headers['content-length'] ?? -1)
      if (length !== body.length) {
        return azureError(res, 400, 'InvalidHeaderValue', 'Content-Length does not match the body')
      }
      const md5 = createHash('md5').update(body).digest('base64')
      if (comp === 'block') {
        if (!blockid) return azureError(res, 400, 'InvalidQueryParameterValue', 'blockid is required')
        open.blocks.set(blockid, body)
        res.writeHead(201, azureHeaders({ 'Content-MD5': md5, 'x-ms-request-server-encrypted': 'true' }))
        res.end()
        return 201
      }
      if (comp === 'blocklist') {
        const ids = blockIds(body.toString('utf8'))
        const parts: Buffer[] = []
        for (const id of ids) {
          const part = open.blocks.get(id)
          if (!part) return azureError(res, 400, 'InvalidBlockList', `block ${id} was not staged`)
          parts.push(part)
        }
        open.entry.data = Buffer.concat(parts)
        open.entry.uploadedBy = 'block-list'
        open.entry.blocksCommitted = ids.length
        open.blocks.clear()
      } else if (comp === undefined) {
        if (req.headers['x-ms-blob-type'] !== 'BlockBlob') {
          return azureError(res, 400, 'MissingRequiredHeader', 'x-ms-blob-type: BlockBlob is required')
        }
        open.entry.data = body
        open.entry.uploadedBy = 'single-shot'
        open.entry.blocksCommitted = 0
      } else {
        return azureError(res, 400, 'InvalidQueryParameterValue', `comp=${comp} is not supported here`)
      }
      res.writeHead(
        201,
        azureHeaders({
          ETag: `"0x${randomBytes(8).toString('hex').toUpperCase()}"`,
          'Last-Modified': new Date().toUTCString(),
          'x-ms-request-server-encrypted': 'true',
          ...(comp === undefined ? { 'Content-MD5': md5 } : {})
        })
      )
      res.end()
      return 201
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return azureError(res, 405, 'UnsupportedHttpVerb', `${req.method} is not supported`)
    }
    const entry = entries.find(e => e.blobName === blobName)
    const data = entry?.finalized ? entry.data : undefined
    if (!data) return azureError(res, 404, 'BlobNotFound', 'The specified blob does not exist.')
    const rangeHeader = (req.headers['x-ms-range'] ?? req.headers.range) as string | undefined
    record.range = rangeHeader
    const common = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"0x${createHash('sha1').update(blobName).digest('hex').slice(0, 16).toUpperCase()}"`,
      'Last-Modified': new Date(entry?.createdAt ?? Date.now()).toUTCString(),
      'x-ms-blob-type': 'BlockBlob'
    }
    if (rangeHeader) {
      const range = parseRange(rangeHeader, data.length)
      if (!range) {
        res.writeHead(416, azureHeaders({ 'Content-Range': `bytes */${data.length}` }))
        res.end()
        return 416
      }
      const slice = data.subarray(range.start, range.end + 1)
      res.writeHead(
        206,
        azureHeaders({
          ...common,
          'Content-Length': slice.length,
          'Content-Range': `bytes ${range.start}-${range.end}/${data.length}`
        })
      )
      res.end(req.method === 'HEAD' ? undefined : slice)
      return 206
    }
    res.writeHead(200, azureHeaders({ ...common, 'Content-Length': data.length }))
    res.end(req.method === 'HEAD' ? undefined : data)
    return 200
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      kind: url.pathname.startsWith(TWIRP_PREFIX)
        ? 'twirp'
        : url.pathname.startsWith(`/${ACCOUNT}/`)
          ? 'blob'
          : 'other',
      bytes: 0,
      status: 0
    }
    const handle =
      record.kind === 'twirp'
        ? twirp(req, res, record)
        : record.kind === 'blob'
          ? blob(req, res, record)
          : Promise.resolve(twirpError(res, 404, 'bad_route', `no route for ${url.pathname}`))
    handle
      .then(status => {
        record.status = status
        requests.push(record)
      })
      .catch((error: unknown) => {
        record.status = 500
        requests.push(record)
        if (!res.headersSent) twirpError(res, 500, 'internal', String(error))
        else res.destroy()
      })
  })
  server.keepAliveTimeout = 1000
  const sockets = new Set<Socket>()
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })
  const stop = () =>
    new Promise<void>(resolve => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })

  const port = await listen(0)
  base = `http://127.0.0.1:${port}/`

  return {
    url: base,
    port,
    token,
    env: { ACTIONS_CACHE_SERVICE_V2: 'True', ACTIONS_RESULTS_URL: base, ACTIONS_RUNTIME_TOKEN: token },
    requests,
    entries,
    count(what: string) {
      return requests.filter(r => r.rpc === what || r.op === what).length
    },
    async fail(next: FailMode) {
      if (next === 'refuse') await stop()
      else if (!server.listening) await listen(port)
      mode = next
    },
    async reset() {
      requests.length = 0
      entries.length = 0
      pending.clear()
      signatures.clear()
      if (!server.listening) await listen(port)
      mode = 'none'
    },
    close: stop
  }
}
