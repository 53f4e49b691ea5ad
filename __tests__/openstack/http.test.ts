import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  HttpClient,
  OpenStackError,
  parseErrorBody,
  retryAfterMs,
  type UploadProgress
} from '../../src/openstack/http.js'

// Bodies as Keystone 22 and Glance 25 (Debian 12) really send them.
const KEYSTONE_401 =
  '{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}\n'
const GLANCE_409_HTML = `<html>
 <head>
  <title>409 Conflict</title>
 </head>
 <body>
  <h1>409 Conflict</h1>
  Image status transition from active to saving is not allowed<br /><br />



 </body>
</html>`
const GLANCE_415_JSON =
  '{"message": "The request media type application/json is not supported by this server.\\n<br /><br />\\n", "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}'
const GLANCE_403_JSON =
  '{"message": "You are not authorized to complete publicize_image action.<br /><br />\\n\\n\\n", "code": "403 Forbidden", "title": "Forbidden"}'

describe('parseErrorBody', () => {
  it('reads Keystone {error: {message}}', () => {
    expect(parseErrorBody('application/json', KEYSTONE_401)).toBe(
      'The request you have made requires authentication.'
    )
  })

  it("reads Glance's JSON and drops webob's HTML line breaks", () => {
    expect(parseErrorBody('application/json', GLANCE_415_JSON)).toBe(
      'The request media type application/json is not supported by this server.'
    )
    expect(parseErrorBody('application/json', GLANCE_403_JSON)).toBe(
      'You are not authorized to complete publicize_image action.'
    )
  })

  it("reads Glance's HTML pages without the repeated title", () => {
    expect(parseErrorBody('text/html; charset=UTF-8', GLANCE_409_HTML)).toBe(
      'Image status transition from active to saving is not allowed'
    )
  })

  it('falls back to the title, then to the text, and shortens long bodies', () => {
    expect(
      parseErrorBody('text/html', '<html><head><title>502 Bad Gateway</title></head><body></body></html>')
    ).toBe('502 Bad Gateway')
    expect(parseErrorBody('text/plain', '  upstream\n timed out ')).toBe('upstream timed out')
    expect(parseErrorBody(undefined, '')).toBeUndefined()
    expect(parseErrorBody('text/plain', 'x'.repeat(600))).toHaveLength(501)
  })

  it('reads nested and list-shaped JSON errors', () => {
    expect(
      parseErrorBody('application/json', '{"badRequest": {"message": "bad disk_format", "code": 400}}')
    ).toBe('bad disk_format')
    expect(
      parseErrorBody('application/json', '{"errors": [{"title": "Conflict", "detail": "in use"}]}')
    ).toBe('in use')
  })
})

describe('OpenStackError.fromResponse', () => {
  it('carries status, method, URL, request id and message', () => {
    const error = OpenStackError.fromResponse(
      'PUT',
      'http://127.0.0.1:9292/v2/images/abc/file',
      {
        status: 409,
        headers: { 'content-type': 'text/html', 'x-openstack-request-id': 'req-1234' },
        text: GLANCE_409_HTML
      },
      'uploading image abc'
    )
    expect(error.message).toBe(
      'uploading image abc: PUT http://127.0.0.1:9292/v2/images/abc/file returned 409: ' +
        'Image status transition from active to saving is not allowed (request req-1234)'
    )
    expect(error).toMatchObject({ status: 409, method: 'PUT', requestId: 'req-1234', isNetwork: false })
  })

  it('strips user info from URLs', () => {
    const error = OpenStackError.fromResponse('GET', 'https://user:secret@glance/v2/images', {
      status: 500,
      headers: {},
      text: ''
    })
    expect(error.message).toBe('GET https://glance/v2/images returned 500')
    expect(error.url).not.toContain('secret')
  })
})

describe('HttpClient against a local server', () => {
  let server: http.Server
  let base: string
  let dir: string
  const seen: { method?: string; headers: http.IncomingHttpHeaders; bytes: number; sha512: string }[] = []
  let failures = 0
  /** /slow: the first bytes arrived (the server then stops reading); how the request ended. */
  let slowStarted: (req: http.IncomingMessage) => void = () => undefined
  let slowEnded: (end: { complete: boolean; bytes: number }) => void = () => undefined

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-http-'))
    server = http.createServer((req, res) => {
      if (req.url === '/flaky' && failures-- > 0) {
        res.writeHead(503).end('busy')
        return
      }
      if (req.url === '/refuse') {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end('{"message": "no"}')
        req.resume()
        return
      }
      if (req.url === '/slow') {
        let bytes = 0
        req.on('data', (chunk: Buffer) => {
          if (bytes === 0) {
            req.pause()
            slowStarted(req)
          }
          bytes += chunk.length
        })
        req.on('close', () => slowEnded({ complete: req.complete, bytes }))
        return
      }
      const hash = createHash('sha512')
      let bytes = 0
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        hash.update(chunk)
      })
      req.on('end', () => {
        seen.push({ method: req.method, headers: req.headers, bytes, sha512: hash.digest('hex') })
        res.writeHead(req.url === '/flaky' ? 200 : 204).end()
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  it('streams a file with Content-Length (never chunked), hashing it and reporting progress', async () => {
    const file = path.join(dir, 'image.raw')
    const data = Buffer.alloc(3 * 1024 * 1024 + 17)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
    writeFileSync(file, data)
    const progress: UploadProgress[] = []
    const client = new HttpClient()
    const result = await client.upload({
      method: 'PUT',
      url: `${base}/upload`,
      headers: { 'X-Auth-Token': 't', 'Content-Type': 'application/octet-stream' },
      file,
      size: data.length,
      onProgress: p => progress.push(p),
      progressIntervalMs: 1
    })
    client.close()
    const last = seen[seen.length - 1]
    expect(last?.headers['content-length']).toBe(String(data.length))
    expect(last?.headers['transfer-encoding']).toBeUndefined()
    expect(last?.bytes).toBe(data.length)
    expect(result.sha512).toBe(createHash('sha512').update(data).digest('hex'))
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'))
    expect(result.response.status).toBe(204)
    expect(progress[progress.length - 1]).toMatchObject({ bytes: data.length, percent: 100 })
  })

  it('returns an early refusal as the response', async () => {
    const file = path.join(dir, 'big.raw')
    writeFileSync(file, Buffer.alloc(8 * 1024 * 1024))
    const client = new HttpClient()
    const result = await client.upload({
      method: 'PUT',
      url: `${base}/refuse`,
      headers: {},
      file,
      size: 8 * 1024 * 1024
    })
    client.close()
    expect(result.response.status).toBe(401)
  })

  it('stops an upload when its signal is aborted: the connection is closed, the reason is the error', async () => {
    const file = path.join(dir, 'cancelled.raw')
    const size = 256 * 1024 * 1024
    writeFileSync(file, '')
    truncateSync(file, size)
    const started = new Promise<http.IncomingMessage>(resolve => (slowStarted = resolve))
    const ended = new Promise<{ complete: boolean; bytes: number }>(resolve => (slowEnded = resolve))
    const cancel = new AbortController()
    const client = new HttpClient()
    const upload = client.upload({
      method: 'PUT',
      url: `${base}/slow`,
      headers: {},
      file,
      size,
      signal: cancel.signal
    })
    const received = await started
    const reason = new Error('another target failed')
    cancel.abort(reason)
    await expect(upload).rejects.toBe(reason)
    // reading on, the server meets the end of a connection that was closed mid-body
    received.resume()
    const end = await ended
    client.close()
    expect(end.complete).toBe(false)
    expect(end.bytes).toBeLessThan(size)
    // already aborted: nothing is sent at all
    await expect(
      client.upload({ method: 'PUT', url: `${base}/slow`, headers: {}, file, size, signal: cancel.signal })
    ).rejects.toBe(reason)
  })

  it('fails when the file is not the announced size', async () => {
    const file = path.join(dir, 'short.raw')
    writeFileSync(file, Buffer.alloc(1000))
    const client = new HttpClient()
    await expect(
      client.upload({ method: 'PUT', url: `${base}/upload`, headers: {}, file, size: 1000 + 1 })
    ).rejects.toThrow()
    client.close()
  })

  it('retries idempotent requests on 503 and reports network errors with the URL', async () => {
    failures = 1
    const client = new HttpClient({}, { attempts: 3, delayMs: 10 })
    const response = await client.request({ method: 'GET', url: `${base}/flaky` })
    expect(response.status).toBe(200)
    await expect(client.request({ method: 'GET', url: 'http://127.0.0.1:1/v2/images' })).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:1\/v2\/images failed: ECONNREFUSED/
    )
    client.close()
  })
})

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-03T09:00:00Z')

  it('reads delay-seconds and HTTP-dates', () => {
    expect(retryAfterMs({ 'retry-after': '7' }, now)).toBe(7000)
    expect(retryAfterMs({ 'retry-after': 'Thu, 03 Dec 2026 09:00:05 GMT' }, now)).toBe(5000)
    expect(retryAfterMs({ 'retry-after': 'Thu, 03 Dec 2026 08:00:00 GMT' }, now)).toBe(0)
  })

  it('ignores a missing or unreadable header', () => {
    expect(retryAfterMs({}, now)).toBeUndefined()
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined()
    expect(retryAfterMs({ 'retry-after': '-3' }, now)).toBeUndefined()
    expect(retryAfterMs({ 'retry-after': '1.5' }, now)).toBeUndefined()
  })
})

describe('HttpClient honours Retry-After (a local server answering 429/503 first)', () => {
  let server: http.Server
  let base: string
  let dir: string
  /** The answers still to give before a 2xx: [status, Retry-After]. */
  let refusals: [number, string | undefined][] = []
  let arrivals: { method: string; at: number; bytes: number }[] = []

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-retry-'))
    server = http.createServer((req, res) => {
      let bytes = 0
      req.on('data', (chunk: Buffer) => (bytes += chunk.length))
      req.on('end', () => {
        arrivals.push({ method: req.method ?? '', at: Date.now(), bytes })
        const refusal = refusals.shift()
        if (refusal) {
          res.writeHead(refusal[0], refusal[1] === undefined ? {} : { 'retry-after': refusal[1] })
          res.end('{"message": "slow down"}')
          return
        }
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    refusals = []
    arrivals = []
  })

  const gap = (index: number): number => (arrivals[index]?.at ?? 0) - (arrivals[index - 1]?.at ?? 0)

  it('waits the seconds a 503 asks for, then succeeds', async () => {
    refusals = [[503, '1']]
    const client = new HttpClient({}, { attempts: 3, delayMs: 10 })
    const response = await client.request({ method: 'GET', url: `${base}/v2/images` })
    client.close()
    expect(response.status).toBe(200)
    expect(arrivals).toHaveLength(2)
    expect(gap(1)).toBeGreaterThanOrEqual(950)
  })

  it('waits until the HTTP-date a 429 names, for a POST too (its body is sent again)', async () => {
    refusals = [[429, new Date(Date.now() + 2000).toUTCString()]]
    const client = new HttpClient({}, { attempts: 3, delayMs: 10 })
    const response = await client.request({ method: 'POST', url: `${base}/v2/images`, json: { name: 'x' } })
    client.close()
    expect(response.status).toBe(201)
    expect(arrivals.map(arrival => [arrival.method, arrival.bytes])).toEqual([
      ['POST', 12],
      ['POST', 12]
    ])
    // the date has a one-second resolution: at least the rest of the current second
    expect(gap(1)).toBeGreaterThanOrEqual(900)
  })

  it('stops after the attempts it is given and reports the last answer', async () => {
    refusals = [
      [503, '0'],
      [503, '0'],
      [503, '0']
    ]
    const client = new HttpClient({}, { attempts: 2, delayMs: 10 })
    await expect(client.request({ method: 'GET', url: `${base}/v2/images` })).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/v2\/images returned 503: slow down \(it asked to retry after 0/
    )
    client.close()
    expect(arrivals).toHaveLength(2)
  })

  it('does not wait longer than the cap: a Retry-After beyond it is reported at once', async () => {
    refusals = [[429, '3600']]
    const client = new HttpClient({}, { attempts: 3, delayMs: 10, retryAfterCapMs: 5000 })
    const started = Date.now()
    await expect(client.request({ method: 'GET', url: `${base}/v2/images` })).rejects.toThrow(
      /returned 429: slow down \(it asked to retry after 3600: beyond our wait cap or attempts\)/
    )
    client.close()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(arrivals).toHaveLength(1)
  })

  it('retries a POST on 503 only when the server says when (no Retry-After: the POST may have run)', async () => {
    refusals = [[503, undefined]]
    const client = new HttpClient({}, { attempts: 3, delayMs: 10 })
    await expect(client.request({ method: 'POST', url: `${base}/v2/images`, json: {} })).rejects.toThrow(
      /returned 503/
    )
    client.close()
    expect(arrivals).toHaveLength(1)
  })

  it('sends an upload again, whole, after a 503 with Retry-After', async () => {
    const file = path.join(dir, 'image.raw')
    writeFileSync(file, Buffer.alloc(256 * 1024, 1))
    refusals = [[503, '1']]
    const client = new HttpClient({}, { attempts: 3, delayMs: 10 })
    const result = await client.upload({
      method: 'PUT',
      url: `${base}/v2/images/abc/file`,
      headers: {},
      file,
      size: 256 * 1024,
      noHash: true
    })
    client.close()
    expect(result.response.status).toBe(200)
    expect(result.bytes).toBe(256 * 1024)
    expect(result.sha512).toBe('')
    expect(arrivals.map(arrival => arrival.bytes)).toEqual([256 * 1024, 256 * 1024])
    expect(gap(1)).toBeGreaterThanOrEqual(950)
  })
})
