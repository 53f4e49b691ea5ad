// The package cache against a fake of the Actions cache service v2, driven by the real @actions/cache
// in this process (Twirp JSON calls, Azure-Blob-style uploads through @azure/storage-blob, tar + zstd).
// No root needed. Run: NODE_OPTIONS=--experimental-vm-modules npx jest test/cache-service.test.ts
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  cacheKey,
  restorePackageCache,
  savePackageCache,
  type CacheKeyInput
} from '../src/cache/package-cache.js'
import { MemoryLog } from './support/log.js'
import { startCacheService, TWIRP_PREFIX, type CacheService } from './fakes/cache-service.js'

const MiB = 1024 * 1024
const ENV_NAMES = [
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_CACHE_URL',
  'ACTIONS_CACHE_MODE',
  'GITHUB_SERVER_URL',
  'GITHUB_WORKSPACE',
  'RUNNER_TEMP'
]

let service: CacheService
let scratch: string
let dir: string
let savedEnv: Record<string, string | undefined>
let stdout: string[]

const base: CacheKeyInput = {
  architecture: 'x86_64',
  servers: ['https://mirror.example/$repo/os/$arch'],
  packages: ['base', 'linux', 'openssh'],
  today: new Date('2025-06-10T12:00:00Z')
}

function writePackages(target: string, files: Record<string, Buffer | string>): void {
  mkdirSync(target, { recursive: true })
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(target, name), content)
}

function digest(target: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(target).sort()) {
    out[name] = createHash('sha256')
      .update(readFileSync(path.join(target, name)))
      .digest('hex')
  }
  return out
}

/** The library's retry sleeps (Twirp 3 s × 1.5ⁿ, five tries; blob 5 s; Azure 4 s × 2ⁿ) shortened to 10 ms. */
function fastRetries(): () => void {
  const original = globalThis.setTimeout
  const patched = ((handler: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    original(
      handler,
      typeof ms === 'number' && ms >= 2000 ? 10 : ms,
      ...args
    )) as unknown as typeof setTimeout
  globalThis.setTimeout = patched
  return () => {
    globalThis.setTimeout = original
  }
}

const workflowCommands = (kind: string) => stdout.filter(line => line.startsWith(`::${kind}::`))

beforeAll(() => {
  savedEnv = Object.fromEntries(ENV_NAMES.map(name => [name, process.env[name]]))
})

afterAll(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
})

beforeEach(async () => {
  service = await startCacheService()
  scratch = mkdtempSync(path.join(os.tmpdir(), 'arch-image-cache-'))
  for (const name of ENV_NAMES) delete process.env[name]
  Object.assign(process.env, service.env)
  process.env.GITHUB_WORKSPACE = path.join(scratch, 'workspace')
  process.env.RUNNER_TEMP = path.join(scratch, 'runner_temp')
  mkdirSync(process.env.GITHUB_WORKSPACE)
  mkdirSync(process.env.RUNNER_TEMP)
  // Outside the workspace, as the action's default ($RUNNER_TEMP/arch-image-pkg) is.
  dir = path.join(scratch, 'runner_temp', 'arch-image-pkg')
  stdout = []
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(...String(chunk).split('\n').filter(Boolean))
    return true
  })
})

afterEach(async () => {
  await service.close()
  jest.restoreAllMocks()
  rmSync(scratch, { recursive: true, force: true })
})

describe('package cache with the real @actions/cache against the fake v2 service', () => {
  it('saves, then restores exactly into the same path; the version hashes the path and compressor', async () => {
    const { key, restoreKeys } = cacheKey(base)
    writePackages(dir, {
      'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst': randomBytes(4096),
      'lib32-glibc-2.40+r16+gaa533d58ff-2-x86_64.pkg.tar.zst': randomBytes(2048),
      'python-setuptools-1:69.0.3-1-any.pkg.tar.zst': randomBytes(1024)
    })
    const before = digest(dir)
    const log = new MemoryLog()

    const saved = await savePackageCache(dir, key, log)
    expect(saved).toMatchObject({ saved: true, outcome: 'saved' })
    expect(service.entries).toHaveLength(1)
    const entry = service.entries[0]!
    expect(entry).toMatchObject({ key, finalized: true, uploadedBy: 'single-shot' })
    expect(entry.version).toBe(createHash('sha256').update(`${dir}|zstd-without-long|1.0`).digest('hex'))
    expect(service.requests.map(r => r.rpc ?? r.op)).toEqual([
      'GetCacheEntryDownloadURL',
      'CreateCacheEntry',
      'put-blob',
      'FinalizeCacheEntryUpload'
    ])
    // Proto field names on the wire; restore_keys left out when empty, int64 size as a string.
    expect(service.requests[0]!.body).toEqual({ key, version: entry.version })
    const create = service.requests[1]!
    expect(create.body).toEqual({ key, version: entry.version })
    expect(service.requests[2]!.query).toMatchObject({ sp: 'cw', sig: expect.any(String) })
    const finalize = service.requests[3]!
    expect(finalize.body).toEqual({ key, version: entry.version, size_bytes: String(entry.data!.length) })

    rmSync(dir, { recursive: true })
    const restored = await restorePackageCache(dir, key, restoreKeys, log)
    expect(restored).toEqual({ hit: 'exact', matchedKey: key, files: 3 })
    expect(digest(dir)).toEqual(before)
    const lookup = service.requests.filter(r => r.rpc === 'GetCacheEntryDownloadURL').at(-1)!
    expect(lookup.body).toEqual({ key, restore_keys: restoreKeys, version: entry.version })
    // The signed download URL is fetched with one plain GET (no Range) by @actions/http-client.
    expect(service.requests.filter(r => r.op === 'get').map(r => [r.status, r.range])).toEqual([
      [200, undefined]
    ])

    // Entries are immutable: after an exact hit the save is skipped without asking the service.
    const count = service.requests.length
    expect(await savePackageCache(dir, key, log, { matchedKey: key })).toEqual({
      saved: false,
      outcome: 'exact-hit'
    })
    expect(service.requests).toHaveLength(count)

    // Another spelling of the directory is another version: nothing to restore.
    const elsewhere = path.join(scratch, 'elsewhere')
    expect(await restorePackageCache(elsewhere, key, restoreKeys, log)).toEqual({ hit: 'miss', files: 0 })
    expect(log.lines.filter(l => l.startsWith('warning'))).toEqual([])
  })

  it('falls back through the restore keys by prefix, newest entry first', async () => {
    const log = new MemoryLog()
    const day1 = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    expect((await savePackageCache(dir, day1.key, log)).saved).toBe(true)

    // The next day, a rolling mirror: the same set from yesterday.
    const day2 = cacheKey({ ...base, today: new Date('2025-06-11T01:00:00Z') })
    rmSync(dir, { recursive: true })
    expect(await restorePackageCache(dir, day2.key, day2.restoreKeys, log)).toEqual({
      hit: 'partial',
      matchedKey: day1.key,
      files: 1
    })
    expect(day2.key.startsWith(day2.restoreKeys[0]!)).toBe(true)

    // Two other sets from the same servers, saved later: a new set restores the newest of them.
    const setA = cacheKey({ ...base, packages: [...base.packages, 'vim'] })
    const setB = cacheKey({ ...base, packages: [...base.packages, 'htop'] })
    writePackages(dir, { 'vim-9.1.0-1-x86_64.pkg.tar.zst': 'vim' })
    expect((await savePackageCache(dir, setA.key, log)).saved).toBe(true)
    await new Promise(resolve => setTimeout(resolve, 5))
    writePackages(dir, { 'htop-3.3.0-1-x86_64.pkg.tar.zst': 'htop' })
    expect((await savePackageCache(dir, setB.key, log)).saved).toBe(true)
    const setC = cacheKey({ ...base, packages: [...base.packages, 'tmux'] })
    rmSync(dir, { recursive: true })
    const restored = await restorePackageCache(dir, setC.key, setC.restoreKeys, log)
    expect(restored).toMatchObject({ hit: 'partial', matchedKey: setB.key, files: 3 })

    // Other servers (another snapshot's Archive date is the same source; a different mirror is not):
    // only the architecture-wide fallback matches, again the newest.
    const other = cacheKey({ ...base, servers: ['https://other.example/$repo/os/$arch'] })
    rmSync(dir, { recursive: true })
    expect(await restorePackageCache(dir, other.key, other.restoreKeys, log)).toMatchObject({
      hit: 'partial',
      matchedKey: setB.key
    })
    // Without restore keys nothing matches.
    rmSync(dir, { recursive: true })
    expect(await restorePackageCache(dir, other.key, [], log)).toEqual({ hit: 'miss', files: 0 })
  })

  it('a key another job saved meanwhile is not saved again; one being uploaded is a 409, a warning', async () => {
    const { key } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    const log = new MemoryLog()
    expect((await savePackageCache(dir, key, log)).saved).toBe(true)
    const count = service.requests.length
    // Finished: the lookup finds it, nothing is archived or reserved.
    expect(await savePackageCache(dir, key, log)).toEqual({ saved: false, outcome: 'exists' })
    expect(service.requests.slice(count).map(r => r.rpc)).toEqual(['GetCacheEntryDownloadURL'])
    expect(log.lines.filter(l => l.startsWith('warning'))).toEqual([])

    // Still uploading (reserved, not finalized): CreateCacheEntry answers 409 already_exists.
    const other = cacheKey({ ...base, packages: ['base'] })
    const version = service.entries[0]!.version
    const reserve = await fetch(new URL(`${TWIRP_PREFIX}CreateCacheEntry`, service.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${service.token}` },
      body: JSON.stringify({ key: other.key, version })
    })
    expect(reserve.status).toBe(200)
    await expect(savePackageCache(dir, other.key, log)).resolves.toEqual({ saved: false, outcome: 'failed' })
    const creates = service.requests.filter(r => r.rpc === 'CreateCacheEntry').map(r => r.status)
    expect(creates).toEqual([200, 200, 409])
    expect(log.lines.filter(l => l.startsWith('warning'))).toEqual([
      `warning: package cache: not saved under ${other.key} (another job may be saving the same key; otherwise the cache service's reason is logged above)`
    ])
  })

  it('uploads an archive over 128 MiB as staged 64 MiB blocks and a block list, and restores it', async () => {
    const { key, restoreKeys } = cacheKey(base)
    // Random bytes do not compress: the zstd archive stays above the 128 MiB single-shot limit.
    writePackages(dir, {
      'linux-firmware-20250509.b05fabcd-1-any.pkg.tar.zst': randomBytes(100 * MiB),
      'linux-6.9.3.arch1-1-x86_64.pkg.tar.zst': randomBytes(30 * MiB)
    })
    const before = digest(dir)
    const log = new MemoryLog()
    expect((await savePackageCache(dir, key, log)).saved).toBe(true)
    const entry = service.entries[0]!
    expect(entry.uploadedBy).toBe('block-list')
    expect(entry.data!.length).toBeGreaterThan(128 * MiB)
    expect(entry.blocksCommitted).toBe(3)
    expect(service.count('put-block')).toBe(3)
    expect(service.count('put-block-list')).toBe(1)
    expect(service.count('put-blob')).toBe(0)
    const blocks = service.requests.filter(r => r.op === 'put-block').map(r => r.bytes)
    expect(blocks.sort((a, b) => b - a)).toEqual([64 * MiB, 64 * MiB, entry.data!.length - 128 * MiB])

    rmSync(dir, { recursive: true })
    expect(await restorePackageCache(dir, key, restoreKeys, log)).toMatchObject({ hit: 'exact', files: 2 })
    expect(digest(dir)).toEqual(before)
  }, 120_000)

  it('HTTP 500 from the service: restore is a miss and save is skipped, with warnings, never a throw', async () => {
    const { key, restoreKeys } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    await service.fail('500')
    const log = new MemoryLog()
    const restore = fastRetries()
    try {
      await expect(restorePackageCache(dir, key, restoreKeys, log)).resolves.toEqual({
        hit: 'miss',
        files: 1
      })
      await expect(savePackageCache(dir, key, log)).resolves.toEqual({ saved: false, outcome: 'failed' })
    } finally {
      restore()
    }
    // The Twirp client tried five times per call.
    expect(service.count('GetCacheEntryDownloadURL')).toBe(10)
    expect(service.count('CreateCacheEntry')).toBe(5)
    expect(workflowCommands('warning').join('\n')).toMatch(/Failed to restore: .*500/)
    expect(log.lines.filter(l => l.startsWith('warning'))).toEqual([
      `warning: package cache: not saved under ${key} (another job may be saving the same key; otherwise the cache service's reason is logged above)`
    ])
    expect(service.entries).toHaveLength(0)
  })

  it('HTTP 500 from blob storage only: the upload fails and the entry is never finalized', async () => {
    const { key } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    await service.fail('blob-500')
    const log = new MemoryLog()
    const restore = fastRetries()
    try {
      await expect(savePackageCache(dir, key, log)).resolves.toEqual({ saved: false, outcome: 'failed' })
    } finally {
      restore()
    }
    expect(service.count('put-blob')).toBeGreaterThan(1)
    expect(service.count('FinalizeCacheEntryUpload')).toBe(0)
    expect(service.entries.map(e => e.finalized)).toEqual([false])
    expect(workflowCommands('warning').join('\n')).toMatch(/Failed to save/)
  })

  it('a refused connection: restore is a miss and save is skipped, with warnings, quickly', async () => {
    const { key, restoreKeys } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    await service.fail('refuse')
    const log = new MemoryLog()
    const start = Date.now()
    await expect(restorePackageCache(dir, key, restoreKeys, log)).resolves.toEqual({ hit: 'miss', files: 1 })
    await expect(savePackageCache(dir, key, log)).resolves.toEqual({ saved: false, outcome: 'failed' })
    expect(Date.now() - start).toBeLessThan(10_000)
    expect(workflowCommands('warning').join('\n')).toMatch(/ECONNREFUSED/)
    expect(log.lines.some(l => l.startsWith('warning: package cache: not saved'))).toBe(true)
    expect(service.requests).toHaveLength(0)

    // Back again: the same port serves.
    await service.fail('none')
    expect((await savePackageCache(dir, key, log)).saved).toBe(true)
  })

  it('without the service (no ACTIONS_RESULTS_URL) the cache is off: a miss, nothing saved, no warning', async () => {
    delete process.env.ACTIONS_RESULTS_URL
    const { key, restoreKeys } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': 'one' })
    const log = new MemoryLog()
    expect(await restorePackageCache(dir, key, restoreKeys, log)).toEqual({ hit: 'miss', files: 1 })
    expect(await savePackageCache(dir, key, log)).toEqual({ saved: false, outcome: 'unavailable' })
    expect(log.lines.filter(l => l.startsWith('warning'))).toEqual([])
    expect(service.requests).toHaveLength(0)
  })

  it('a directory with glob characters is not cached (the library would read it as a pattern)', async () => {
    const odd = path.join(scratch, 'pkg[1]')
    writePackages(odd, { 'base-3-2-any.pkg.tar.zst': 'one' })
    const log = new MemoryLog()
    const { key, restoreKeys } = cacheKey(base)
    expect(await restorePackageCache(odd, key, restoreKeys, log)).toMatchObject({ hit: 'miss' })
    expect(await savePackageCache(odd, key, log)).toEqual({ saved: false, outcome: 'unavailable' })
    expect(service.requests).toHaveLength(0)
  })
})

describe('the fake service speaks the wire protocol', () => {
  async function twirp(method: string, body: unknown, token = service.token) {
    const response = await fetch(new URL(`${TWIRP_PREFIX}${method}`, service.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body)
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }

  it('rejects a wrong bearer token, unknown methods and missing fields as Twirp errors', async () => {
    expect(await twirp('GetCacheEntryDownloadURL', { key: 'k', version: 'v' }, 'wrong')).toEqual({
      status: 401,
      body: { code: 'unauthenticated', msg: expect.any(String) }
    })
    expect((await twirp('DeleteCacheEntry', { key: 'k', version: 'v' })).body.code).toBe('bad_route')
    expect((await twirp('CreateCacheEntry', { key: 'k' })).body.code).toBe('invalid_argument')
    expect(await twirp('GetCacheEntryDownloadURL', { key: 'k', version: 'v' })).toEqual({
      status: 200,
      body: { ok: false, signed_download_url: '', matched_key: '' }
    })
  })

  it('serves ranged GETs and HEAD of a finalized blob, and checks the signature', async () => {
    const { key } = cacheKey(base)
    writePackages(dir, { 'base-3-2-any.pkg.tar.zst': randomBytes(10_000) })
    expect((await savePackageCache(dir, key, new MemoryLog())).saved).toBe(true)
    const entry = service.entries[0]!
    const { body } = await twirp('GetCacheEntryDownloadURL', { key, version: entry.version })
    const url = body.signed_download_url as string
    expect(url).toContain(`sig=`)

    const ranged = await fetch(url, { headers: { Range: 'bytes=10-19' } })
    expect(ranged.status).toBe(206)
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-19/${entry.data!.length}`)
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(entry.data!.subarray(10, 20))
    const tail = await fetch(url, { headers: { 'x-ms-range': 'bytes=-5' } })
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(entry.data!.subarray(-5))
    const head = await fetch(url, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String(entry.data!.length))
    expect((await fetch(url, { headers: { Range: `bytes=${entry.data!.length}-` } })).status).toBe(416)

    const forged = new URL(url)
    forged.searchParams.set('sig', 'forged')
    expect((await fetch(forged)).status).toBe(403)
    // The download signature does not grant writes.
    expect(
      (await fetch(url, { method: 'PUT', body: 'x', headers: { 'x-ms-blob-type': 'BlockBlob' } })).status
    ).toBe(403)
  })
})
