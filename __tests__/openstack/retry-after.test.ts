import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { HttpClient, retryAfterMs } from '../../src/openstack/http.js'

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
