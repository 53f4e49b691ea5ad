import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { HttpClient, OpenStackError, parseErrorBody, type UploadProgress } from '../../src/openstack/http.js'

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
