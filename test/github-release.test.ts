// The octokit Releaser and publishRelease against a fake GitHub (test/fakes/github.ts) that checks every
// request against GitHub's OpenAPI description: new, existing and draft releases, replaced assets, the
// 422 race, a 502 that leaves a `starter` asset, a dropped connection, the 2 GiB refusal, a read-only
// token, immutable releases, and uploads streamed from disk. No root needed.
import { createHash, randomBytes } from 'node:crypto'
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { createOctokitReleaser } from '../src/github/octokit-releaser.js'
import { publishRelease, type PublishReleaseOptions } from '../src/github/publish-release.js'
import { FakeGitHub } from './fakes/github.js'
import { MemoryLog } from './support/log.js'

let dir: string
let image: string
let sums: string
let manifest: string
let fake: FakeGitHub
let log: MemoryLog

/** How far this process has read `file`, from the file offset of the descriptor it has open on it. */
function readOffset(file: string): number {
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = ''
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue
    }
    if (target !== file) continue
    const pos = /^pos:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    return Number(pos?.[1])
  }
  throw new Error(`${file} isn't open`)
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-gh-it-'))
  image = path.join(dir, 'arch-x86_64.qcow2')
  writeFileSync(image, randomBytes(3 * 1024 * 1024 + 17))
  sums = path.join(dir, 'SHA256SUMS')
  writeFileSync(sums, `${sha256(image)}  arch-x86_64.qcow2\n`)
  manifest = path.join(dir, 'arch-x86_64.manifest')
  writeFileSync(manifest, 'base 3-2\nlinux 6.12.1.arch1-1\n')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

beforeEach(async () => {
  fake = await FakeGitHub.start()
  log = new MemoryLog()
})
afterEach(async () => {
  await fake.close()
  // The fake's point: every request matched GitHub's OpenAPI description, and so did its answers.
  expect(fake.violations).toEqual([])
})

function files(): PublishReleaseOptions['files'] {
  return [
    { path: image },
    { path: sums, contentType: 'text/plain' },
    { path: manifest, contentType: 'text/plain' }
  ]
}

function options(overrides: Partial<PublishReleaseOptions> = {}): PublishReleaseOptions {
  return {
    releaser: createOctokitReleaser({
      token: 'write-token',
      repository: fake.repository,
      baseUrl: fake.apiUrl
    }),
    tag: 'v2025.01.01',
    name: 'Arch Linux 2025.01.01',
    draft: false,
    prerelease: false,
    makeLatest: 'true',
    files: files(),
    log,
    retryDelayMs: 5,
    ...overrides
  }
}

function assetsOf(tag: string): Record<string, string> {
  const [release] = fake.releaseByTag(tag)
  return Object.fromEntries((release?.assets ?? []).map(a => [a.name, `${a.state}:${a.sha256}`]))
}

const expectedAssets = (): Record<string, string> => ({
  'arch-x86_64.qcow2': `uploaded:${sha256(image)}`,
  SHA256SUMS: `uploaded:${sha256(sums)}`,
  'arch-x86_64.manifest': `uploaded:${sha256(manifest)}`
})

describe('publishRelease with the octokit Releaser', () => {
  test('the OpenAPI description is the one from @octokit/openapi', () => {
    expect(fake.openapi.version).toMatch(/^\d+\.\d+\.\d+$/)
  })

  test('a new release is created as a draft, gets its assets, then is published', async () => {
    const result = await publishRelease(options())

    expect(fake.operations()).toEqual([
      'repos/get-release-by-tag', // 404
      'repos/list-releases', // no draft either
      'repos/create-release',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/update-release'
    ])
    const create = fake.requests[2]
    expect(create?.json).toEqual({
      tag_name: 'v2025.01.01',
      name: 'Arch Linux 2025.01.01',
      draft: true,
      prerelease: false
    })
    expect(fake.requests[6]?.json).toEqual({ draft: false, make_latest: 'true' })

    // Streamed with a Content-Length (never chunked), to the uploads host, with the right types.
    expect(fake.requests.filter(r => r.host === 'uploads').map(r => r.query.name)).toEqual([
      'arch-x86_64.qcow2',
      'SHA256SUMS',
      'arch-x86_64.manifest'
    ])
    expect(fake.uploads.map(u => [u.name, u.contentType, u.contentLength, u.chunked, u.bytes])).toEqual([
      ['arch-x86_64.qcow2', 'application/octet-stream', 3 * 1024 * 1024 + 17, false, 3 * 1024 * 1024 + 17],
      ['SHA256SUMS', 'text/plain', 84, false, 84],
      ['arch-x86_64.manifest', 'text/plain', 30, false, 30]
    ])
    expect(fake.uploads.map(u => u.sha256)).toEqual([sha256(image), sha256(sums), sha256(manifest)])

    const [release] = fake.releaseByTag('v2025.01.01')
    expect(release).toMatchObject({
      draft: false,
      prerelease: false,
      name: 'Arch Linux 2025.01.01',
      makeLatest: 'true'
    })
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
    expect(result).toEqual({
      url: 'https://github.com/octo-org/arch-images/releases/tag/v2025.01.01',
      id: release?.id,
      draft: false,
      created: true,
      assets: [
        {
          name: 'arch-x86_64.qcow2',
          url: 'https://github.com/octo-org/arch-images/releases/download/v2025.01.01/arch-x86_64.qcow2',
          size: 3 * 1024 * 1024 + 17
        },
        {
          name: 'SHA256SUMS',
          url: 'https://github.com/octo-org/arch-images/releases/download/v2025.01.01/SHA256SUMS',
          size: 84
        },
        {
          name: 'arch-x86_64.manifest',
          url: 'https://github.com/octo-org/arch-images/releases/download/v2025.01.01/arch-x86_64.manifest',
          size: 30
        }
      ]
    })
  })

  test('release-draft leaves the new release a draft', async () => {
    const result = await publishRelease(options({ draft: true, prerelease: true }))
    expect(fake.operations()).not.toContain('repos/update-release')
    const [release] = fake.releaseByTag('v2025.01.01')
    expect(release).toMatchObject({ draft: true, prerelease: true })
    expect(result.draft).toBe(true)
    expect(result.url).toMatch(/\/releases\/tag\/untagged-[0-9a-f]+$/)
    expect(log.lines).toContain(`Left release v2025.01.01 a draft (${result.url})`)
  })

  test('an existing release: same-named assets are replaced, others kept', async () => {
    fake.seedRelease({
      tag: 'v2025.01.01',
      name: 'Arch Linux 2025.01.01',
      assets: { 'arch-x86_64.qcow2': 'old image', SHA256SUMS: 'old sums', 'notes.txt': 'keep me' }
    })
    const result = await publishRelease(options())

    const ops = fake.operations()
    expect(ops.slice(0, 2)).toEqual(['repos/get-release-by-tag', 'repos/list-release-assets'])
    expect(ops).not.toContain('repos/create-release')
    // Delete, then upload, per asset.
    expect(ops.slice(2)).toEqual([
      'repos/delete-release-asset',
      'repos/upload-release-asset',
      'repos/delete-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/update-release'
    ])
    expect(fake.requests.at(-1)?.json).toEqual({ make_latest: 'true' })
    expect(assetsOf('v2025.01.01')).toEqual({
      'notes.txt': expect.stringMatching(/^uploaded:/),
      ...expectedAssets()
    })
    expect(result.created).toBe(false)
    expect(log.lines).toContain('Replacing arch-x86_64.qcow2 (uploaded, 9 bytes)')
  })

  test('a draft is found by listing (the tag lookup 404s for drafts), across pages', async () => {
    const draft = fake.seedRelease({ tag: 'v2025.01.01', draft: true })
    for (let i = 0; i < 120; i++) fake.seedRelease({ tag: `old-${i}` })
    const result = await publishRelease(options())

    const ops = fake.operations()
    expect(ops.slice(0, 3)).toEqual([
      'repos/get-release-by-tag',
      'repos/list-releases',
      'repos/list-releases'
    ])
    expect(fake.requests[2]?.query).toEqual({ per_page: '100', page: '2' })
    expect(ops).not.toContain('repos/create-release')
    expect(fake.releaseByTag('v2025.01.01')).toHaveLength(1)
    expect(draft).toMatchObject({ draft: false, name: 'Arch Linux 2025.01.01' })
    expect(fake.requests.at(-1)?.json).toEqual({
      name: 'Arch Linux 2025.01.01',
      draft: false,
      make_latest: 'true'
    })
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
    expect(result).toMatchObject({ id: draft.id, created: false, draft: false })
  })

  test('a 422 already_exists race: the other asset is deleted and the upload retried once', async () => {
    fake.failNextUpload('already-exists', 'SHA256SUMS')
    await publishRelease(options())
    const uploads = fake.requests.filter(r => r.operationId === 'repos/upload-release-asset')
    expect(uploads.map(r => [r.query.name, r.status])).toEqual([
      ['arch-x86_64.qcow2', 201],
      ['SHA256SUMS', 422],
      ['SHA256SUMS', 201],
      ['arch-x86_64.manifest', 201]
    ])
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
    expect(log.lines).toContain('warning: SHA256SUMS appeared on the release during the upload; replacing it')
  })

  test('a 502 that leaves a starter asset: it is deleted and the upload retried', async () => {
    fake.failNextUpload('starter-502', 'arch-x86_64.qcow2')
    await publishRelease(options())
    const ops = fake.operations()
    expect(ops.slice(3, 7)).toEqual([
      'repos/upload-release-asset', // 502
      'repos/list-release-assets',
      'repos/delete-release-asset', // the starter
      'repos/upload-release-asset'
    ])
    expect(fake.requests[3]?.status).toBe(502)
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
    expect(log.lines).toContain('Deleting the starter asset arch-x86_64.qcow2 (0 bytes)')
    expect(
      log.lines.some(l => /^warning: Uploading arch-x86_64.qcow2 failed \(.*HTTP 502.*\); retrying$/.test(l))
    ).toBe(true)
  })

  test('a connection dropped mid-upload is retried the same way', async () => {
    fake.failNextUpload('reset', 'arch-x86_64.qcow2')
    await publishRelease(options())
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
    expect(log.lines).toContain('Deleting the starter asset arch-x86_64.qcow2 (0 bytes)')
  })

  test('a file of 2 GiB or more is refused before anything is sent', async () => {
    const big = path.join(dir, 'big.raw')
    writeFileSync(big, '')
    truncateSync(big, 2 * 1024 ** 3) // sparse
    try {
      await expect(publishRelease(options({ files: [{ path: big }, { path: sums }] }))).rejects.toThrow(
        /big\.raw is 2\.00 GiB .*GitHub refuses release assets of 2 GiB or more, so nothing was uploaded.*`format: qcow2`.*`compression: zstd`/
      )
    } finally {
      rmSync(big)
    }
    expect(fake.requests).toEqual([])
    expect(fake.releases).toEqual([])
  })

  test('a read-only token: a clear error and nothing created', async () => {
    const releaser = createOctokitReleaser({
      token: 'read-token',
      repository: fake.repository,
      baseUrl: fake.apiUrl
    })
    await expect(publishRelease(options({ releaser }))).rejects.toThrow(
      /can't write this repository's releases\. Give the job `permissions: contents: write`.*HTTP 403: Resource not accessible by integration/
    )
    expect(fake.writes().map(r => [r.operationId, r.status])).toEqual([['repos/create-release', 403]])
    expect(fake.releases).toEqual([])
  })

  test('a read-only token on an existing release: nothing deleted', async () => {
    fake.seedRelease({ tag: 'v2025.01.01', assets: { 'arch-x86_64.qcow2': 'old image' } })
    const releaser = createOctokitReleaser({
      token: 'read-token',
      repository: fake.repository,
      baseUrl: fake.apiUrl
    })
    await expect(publishRelease(options({ releaser }))).rejects.toThrow(/`permissions: contents: write`/)
    expect(fake.writes().map(r => [r.operationId, r.status])).toEqual([['repos/delete-release-asset', 403]])
    expect(Object.keys(assetsOf('v2025.01.01'))).toEqual(['arch-x86_64.qcow2'])
  })

  test('a failure after the draft was created deletes that draft', async () => {
    fake.failNext({
      operationId: 'repos/upload-release-asset',
      name: 'SHA256SUMS',
      status: 403,
      body: { message: 'Resource not accessible by integration', status: '403' }
    })
    await expect(publishRelease(options())).rejects.toThrow(/`permissions: contents: write`/)
    expect(fake.writes().map(r => r.operationId)).toEqual([
      'repos/create-release',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/delete-release'
    ])
    expect(fake.releases).toEqual([])
    expect(log.lines).toContain('Deleted the draft release v2025.01.01 this run created')
  })

  test('immutable releases: a new release works (draft first); changing it afterwards is explained', async () => {
    fake.immutableReleases = true
    await publishRelease(options())
    const [release] = fake.releaseByTag('v2025.01.01')
    expect(release).toMatchObject({ draft: false, immutable: true })
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())

    const before = fake.requests.length
    await expect(publishRelease(options())).rejects.toThrow(
      /v2025\.01\.01 is a published immutable release: .*add, replace or delete its assets.*new `release-tag`/
    )
    // Refused from the release's `immutable` flag, before any change was attempted.
    expect(fake.requests.slice(before).map(r => r.method)).toEqual(['GET'])
    expect(assetsOf('v2025.01.01')).toEqual(expectedAssets())
  })

  test("immutable releases: GitHub's own 422 is explained too", async () => {
    fake.seedRelease({ tag: 'v2025.01.01', immutable: true })
    // As if the release had been published (and locked) between our lookup and the upload.
    const releaser = createOctokitReleaser({
      token: 'write-token',
      repository: fake.repository,
      baseUrl: fake.apiUrl
    })
    const found = await releaser.findByTag('v2025.01.01')
    expect(found?.immutable).toBe(true)
    const locked = { ...found!, immutable: false }
    await expect(
      publishRelease(options({ releaser: { ...releaser, findByTag: async () => locked } }))
    ).rejects.toThrow(
      /is a published immutable release.*\(upload arch-x86_64\.qcow2: HTTP 422: Cannot upload assets to an immutable release\.\)/
    )
  })

  test('the tag of a deleted immutable release cannot be reused', async () => {
    fake.immutableReleases = true
    const old = fake.seedRelease({ tag: 'v2025.01.01' })
    fake.releases.splice(fake.releases.indexOf(old), 1)
    fake.burnedTags.add('v2025.01.01')
    await expect(publishRelease(options())).rejects.toThrow(/never lets such a tag be used again/)
    expect(fake.releases).toEqual([])
  })

  test('a large upload is streamed from disk, not read into memory', async () => {
    const big = path.join(dir, 'large.raw')
    writeFileSync(big, '')
    truncateSync(big, 128 * 1024 * 1024) // sparse: reads as zeros
    const resume = fake.pauseUploads()
    try {
      const publishing = publishRelease(options({ files: [{ path: big }] }))
      while (fake.waitingUploads === 0) await sleep(10)
      await sleep(300)
      // While GitHub reads nothing, the client has read no more of the file than the socket buffers hold.
      expect(readOffset(big)).toBeLessThan(32 * 1024 * 1024)
      // ...and the progress lines claim no more than that.
      const progress = (): string[] => log.lines.filter(line => line.startsWith('Uploading large.raw: '))
      expect(progress().every(line => /^Uploading large\.raw: [12]0% /.test(line))).toBe(true)
      resume()
      const result = await publishing
      expect(result.assets).toEqual([expect.objectContaining({ name: 'large.raw', size: 128 * 1024 * 1024 })])
      expect(progress().map(line => line.split(' ')[2])).toEqual([
        '10%',
        '20%',
        '30%',
        '40%',
        '50%',
        '60%',
        '70%',
        '80%',
        '90%',
        '100%'
      ])
      expect(progress().at(-1)).toBe(
        `Uploading large.raw: 100% (${128 * 1024 * 1024} of ${128 * 1024 * 1024} bytes)`
      )
    } finally {
      resume()
      rmSync(big)
    }
    expect(fake.uploads[0]).toMatchObject({ contentLength: 128 * 1024 * 1024, chunked: false })
  }, 60_000)
})

describe('the fake GitHub', () => {
  test('rejects requests that do not match the OpenAPI description', async () => {
    const octokit = getOctokit('write-token', { baseUrl: fake.apiUrl })
    const where = { owner: fake.owner, repo: fake.repo }
    await expect(
      octokit.request('POST /repos/{owner}/{repo}/releases', {
        ...where,
        tag_name: 'v1',
        draft: 'yes' as unknown as boolean
      })
    ).rejects.toMatchObject({ status: 400 })
    await expect(
      octokit.request('POST /repos/{owner}/{repo}/releases', {
        ...where,
        tag_name: 'v1',
        make_latest: true as unknown as 'true'
      })
    ).rejects.toMatchObject({ status: 400 })
    await expect(
      octokit.request('PATCH /repos/{owner}/{repo}/releases/{release_id}', {
        ...where,
        release_id: 1,
        drafty: false
      })
    ).rejects.toMatchObject({ status: 400 })
    await expect(
      octokit.request('GET /repos/{owner}/{repo}/releases', {
        ...where,
        per_page: 'many' as unknown as number
      })
    ).rejects.toMatchObject({ status: 400 })
    await expect(octokit.request('GET /repos/{owner}/{repo}/releases/abc', where)).rejects.toMatchObject({
      status: 404
    })
    // Uploads go to the upload_url's host, never to the API host.
    await expect(
      octokit.request('POST /repos/{owner}/{repo}/releases/{release_id}/assets?name=x', {
        ...where,
        release_id: 1,
        headers: { 'content-type': 'text/plain' },
        data: 'x'
      })
    ).rejects.toMatchObject({ status: 404 })
    expect(fake.violations).toEqual([
      expect.stringContaining('body.draft: expected boolean, got string'),
      expect.stringContaining('body.make_latest: true isn\'t one of ["true","false","legacy"]'),
      expect.stringContaining("body.drafty isn't in the description"),
      expect.stringContaining('query per_page: expected integer, got string'),
      expect.stringContaining('GET /repos/octo-org/arch-images/releases/abc on api: no such operation'),
      expect.stringContaining(
        'POST /repos/octo-org/arch-images/releases/1/assets?name=x on api: no such operation'
      )
    ])
    fake.violations.length = 0
  })

  test('rejects an upload without a Content-Length', async () => {
    const release = fake.seedRelease({ tag: 'v1', draft: true })
    const response = await fetch(
      `${fake.uploadsUrl}/repos/${fake.repository}/releases/${release.id}/assets?name=a`,
      {
        method: 'POST',
        headers: { authorization: 'token write-token', 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array([1, 2, 3]))
            controller.close()
          }
        }),
        duplex: 'half'
      } as RequestInit
    )
    expect(response.status).toBe(400)
    expect(fake.violations).toEqual([
      expect.stringContaining('Content-Length header is required'),
      expect.stringContaining('the body must not be sent with chunked transfer encoding')
    ])
    fake.violations.length = 0
  })
})
