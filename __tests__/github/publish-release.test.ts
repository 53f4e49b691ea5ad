// publishRelease's checks and messages without a network: upload_url templating, the 2 GiB refusal
// before any request, how GitHub's errors are explained, and the retry and cleanup rules against a
// scripted Releaser. test/github-release.test.ts drives the octokit Releaser against a fake GitHub.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals'
import {
  explainReleaseError,
  MAX_ASSET_SIZE,
  publishRelease,
  releaseAssetFiles,
  uploadProgress
} from '../../src/github/publish-release.js'
import {
  assetUploadUrl,
  ReleaseApiError,
  type Release,
  type ReleaseAsset,
  type Releaser
} from '../../src/github/releaser.js'
import { MemoryLog } from '../../test/support/log.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-gh-unit-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, content: string): string {
  const p = path.join(dir, name)
  writeFileSync(p, content)
  return p
}

/** A Releaser that fails the test on any call. */
function untouchable(): Releaser & { calls: string[] } {
  const calls: string[] = []
  const fail = (name: string) => async () => {
    calls.push(name)
    throw new Error(`unexpected call to ${name}`)
  }
  return {
    calls,
    findByTag: fail('findByTag'),
    create: fail('create'),
    update: fail('update'),
    deleteRelease: fail('deleteRelease'),
    listAssets: fail('listAssets'),
    deleteAsset: fail('deleteAsset'),
    uploadAsset: fail('uploadAsset')
  }
}

const draft: Release = {
  id: 7,
  tagName: 'v1',
  name: null,
  draft: true,
  prerelease: false,
  immutable: false,
  htmlUrl: 'https://github.com/o/r/releases/tag/untagged-1',
  uploadUrl: 'https://uploads.github.com/repos/o/r/releases/7/assets{?name,label}',
  assets: []
}

describe('assetUploadUrl', () => {
  test('strips the {?name,label} template and adds the name', () => {
    expect(
      assetUploadUrl('https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}', 'a.qcow2')
    ).toBe('https://uploads.github.com/repos/o/r/releases/1/assets?name=a.qcow2')
  })

  test('encodes the name and label', () => {
    expect(
      assetUploadUrl(
        'https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}',
        'arch image+1.raw',
        'Arch & co'
      )
    ).toBe(
      'https://uploads.github.com/repos/o/r/releases/1/assets?name=arch%20image%2B1.raw&label=Arch%20%26%20co'
    )
  })

  test('keeps a GHES path and works without a template', () => {
    expect(
      assetUploadUrl('https://ghe.example/api/uploads/repos/o/r/releases/9/assets{?name,label}', 'x')
    ).toBe('https://ghe.example/api/uploads/repos/o/r/releases/9/assets?name=x')
    expect(assetUploadUrl('http://127.0.0.1:1234/repos/o/r/releases/9/assets', 'x')).toBe(
      'http://127.0.0.1:1234/repos/o/r/releases/9/assets?name=x'
    )
  })
})

describe('releaseAssetFiles', () => {
  test('names, content types and sizes', () => {
    const image = file('img.qcow2', 'qcow')
    const sums = file('SHA256SUMS', 'x  img.qcow2\n')
    expect(releaseAssetFiles([{ path: image }, { path: sums, contentType: 'text/plain' }])).toEqual([
      { path: image, name: 'img.qcow2', contentType: 'application/octet-stream', size: 4 },
      { path: sums, name: 'SHA256SUMS', contentType: 'text/plain', size: 13 }
    ])
  })

  test('a file of 2 GiB or more is refused with what to change; 1 byte less is fine', () => {
    const big = path.join(dir, 'big.raw')
    writeFileSync(big, '')
    truncateSync(big, MAX_ASSET_SIZE) // sparse
    expect(() => releaseAssetFiles([{ path: big }])).toThrow(
      /big\.raw is 2\.00 GiB \(2147483648 bytes\); GitHub refuses release assets of 2 GiB or more, so nothing was uploaded\. .*`format: qcow2`.*`compression: zstd`/
    )
    truncateSync(big, MAX_ASSET_SIZE - 1)
    expect(releaseAssetFiles([{ path: big }])[0]?.size).toBe(MAX_ASSET_SIZE - 1)
  })

  test('missing files, directories, duplicate names and no files', () => {
    expect(() => releaseAssetFiles([{ path: path.join(dir, 'nope') }])).toThrow(/can't read .*nope: ENOENT/)
    expect(() => releaseAssetFiles([{ path: dir }])).toThrow(/not a regular file/)
    const a = file('a', 'a')
    expect(() => releaseAssetFiles([{ path: a }, { path: file('b', 'b'), name: 'a' }])).toThrow(
      /both be the asset a/
    )
    expect(() => releaseAssetFiles([])).toThrow(/no files/)
  })
})

describe('explainReleaseError', () => {
  test('a read-only token', () => {
    const error = new ReleaseApiError('create release', 403, 'Resource not accessible by integration')
    expect(explainReleaseError(error, 'v1').message).toMatch(
      /can't write this repository's releases\. Give the job `permissions: contents: write`.*\(create release: HTTP 403: Resource not accessible by integration\)/
    )
  })

  test('uploading to or deleting from an immutable release', () => {
    const upload = new ReleaseApiError('upload a.qcow2', 422, 'Cannot upload assets to an immutable release.')
    expect(explainReleaseError(upload, 'v1').message).toMatch(
      /v1 is a published immutable release.*add, replace or delete its assets.*new `release-tag`.*Cannot upload assets/
    )
    const remove = new ReleaseApiError('delete release asset', 422, 'Validation Failed', [
      { resource: 'ReleaseAsset', code: 'custom', message: 'Cannot delete asset from an immutable release' }
    ])
    expect(explainReleaseError(remove, 'v1').message).toMatch(/v1 is a published immutable release/)
  })

  test('a tag burnt by a deleted immutable release', () => {
    const error = new ReleaseApiError('create release', 422, 'Validation Failed', [
      {
        resource: 'Release',
        code: 'custom',
        field: 'tag_name',
        message: 'tag_name was used by an immutable release'
      }
    ])
    expect(explainReleaseError(error, 'v1').message).toMatch(
      /never lets such a tag be used again: set `release-tag` to a new tag/
    )
  })

  test('bad credentials, rate limits, missing repositories, anything else', () => {
    expect(explainReleaseError(new ReleaseApiError('x', 401, 'Bad credentials'), 'v1').message).toMatch(
      /check `github-token`/
    )
    expect(
      explainReleaseError(new ReleaseApiError('x', 403, 'API rate limit exceeded'), 'v1').message
    ).toMatch(/rate limit/)
    expect(explainReleaseError(new ReleaseApiError('x', 404, 'Not Found'), 'v1').message).toMatch(
      /doesn't exist or the token can't see it/
    )
    expect(explainReleaseError(new ReleaseApiError('upload a', 0, 'other side closed'), 'v1').message).toBe(
      'release: upload a: no response: other side closed'
    )
    const plain = new Error('disk on fire')
    expect(explainReleaseError(plain, 'v1')).toBe(plain)
  })
})

describe('publishRelease against a scripted Releaser', () => {
  test('the 2 GiB refusal happens before any request', async () => {
    const big = path.join(dir, 'huge.raw')
    writeFileSync(big, '')
    truncateSync(big, 3 * 1024 ** 3)
    const releaser = untouchable()
    await expect(
      publishRelease({
        releaser,
        tag: 'v1',
        draft: false,
        prerelease: false,
        files: [{ path: big }],
        log: new MemoryLog()
      })
    ).rejects.toThrow(/huge\.raw is 3\.00 GiB/)
    expect(releaser.calls).toEqual([])
  })

  test('uploads that keep failing with 5xx are tried 3 times, then the created draft is deleted', async () => {
    const image = file('img2.qcow2', 'qcow')
    const uploadAsset = jest.fn(async () => {
      throw new ReleaseApiError('upload img2.qcow2', 502, 'Bad Gateway')
    })
    const deleteRelease = jest.fn(async (_id: number) => {})
    const deleteAsset = jest.fn(async (_id: number) => {})
    const starter: ReleaseAsset = {
      id: 70,
      name: 'img2.qcow2',
      state: 'starter',
      size: 0,
      contentType: 'application/octet-stream',
      url: 'https://github.com/o/r/releases/download/untagged-1/img2.qcow2',
      digest: null
    }
    const releaser: Releaser = {
      ...untouchable(),
      findByTag: async () => undefined,
      create: async () => draft,
      listAssets: async () => [starter],
      deleteAsset,
      uploadAsset,
      deleteRelease
    }
    const log = new MemoryLog()
    await expect(
      publishRelease({
        releaser,
        tag: 'v1',
        draft: false,
        prerelease: false,
        files: [{ path: image }],
        log,
        retryDelayMs: 1
      })
    ).rejects.toThrow('release: upload img2.qcow2: HTTP 502: Bad Gateway')
    expect(uploadAsset).toHaveBeenCalledTimes(3)
    expect(deleteAsset).toHaveBeenCalledTimes(2) // the starter left by each failed try but the last
    expect(deleteRelease).toHaveBeenCalledWith(7)
    expect(log.lines).toContain('Deleted the draft release v1 this run created')
  })

  test('a digest that differs from what was sent fails the release', async () => {
    const image = file('img3.qcow2', 'qcow')
    const deleteRelease = jest.fn(async (_id: number) => {})
    const releaser: Releaser = {
      ...untouchable(),
      findByTag: async () => undefined,
      create: async () => draft,
      deleteRelease,
      uploadAsset: async (_release, f) => ({
        id: 71,
        name: f.name,
        state: 'uploaded',
        size: f.size,
        contentType: f.contentType,
        url: 'u',
        digest: 'sha256:0000',
        sha256: 'abcd'
      })
    }
    await expect(
      publishRelease({
        releaser,
        tag: 'v1',
        draft: false,
        prerelease: false,
        files: [{ path: image }],
        log: new MemoryLog()
      })
    ).rejects.toThrow(/digest sha256:0000 isn't the sha256 of what was sent/)
    expect(deleteRelease).toHaveBeenCalledWith(7)
  })
})

describe('upload progress', () => {
  const asset = { path: '/x', name: 'img.qcow2', contentType: 'application/octet-stream' }
  const MiB = 1024 * 1024

  /** The lines logged while `size` bytes go out in `chunk`-sized pieces. */
  function linesFor(size: number, chunk: number): string[] {
    const log = new MemoryLog()
    const onSent = uploadProgress({ ...asset, size }, log)
    for (let sent = chunk; sent < size + chunk; sent += chunk) onSent(Math.min(sent, size))
    return log.lines
  }

  test('a line per 10 % of the bytes, not per chunk', () => {
    const lines = linesFor(95 * MiB, MiB)
    expect(lines).toHaveLength(10)
    expect(lines[0]).toBe(`Uploading img.qcow2: 10% (${10 * MiB} of ${95 * MiB} bytes)`)
    expect(lines[9]).toBe(`Uploading img.qcow2: 100% (${95 * MiB} of ${95 * MiB} bytes)`)
    expect(linesFor(3 * MiB, MiB).map(line => line.split(': ')[1]?.split(' ')[0])).toEqual([
      '33%',
      '66%',
      '100%'
    ])
  })

  test('none for a file sent in one piece', () => {
    expect(linesFor(200, MiB)).toEqual([])
    expect(linesFor(0, MiB)).toEqual([])
  })

  test('publishRelease hands the upload a progress callback that logs', async () => {
    const image = file('progress.qcow2', 'x'.repeat(1000))
    const releaser: Releaser = {
      ...untouchable(),
      findByTag: async () => undefined,
      create: async () => draft,
      update: async () => ({ ...draft, draft: false }),
      uploadAsset: async (_release, f, onSent) => {
        for (const sent of [250, 500, 750, 1000]) onSent?.(sent)
        return {
          id: 72,
          name: f.name,
          state: 'uploaded',
          size: f.size,
          contentType: f.contentType,
          url: 'u',
          digest: null,
          sha256: 'ab'
        }
      }
    }
    const log = new MemoryLog()
    await publishRelease({
      releaser,
      tag: 'v1',
      draft: false,
      prerelease: false,
      files: [{ path: image }],
      log
    })
    expect(log.lines.filter(line => line.startsWith('Uploading progress.qcow2:'))).toEqual([
      'Uploading progress.qcow2: 25% (250 of 1000 bytes)',
      'Uploading progress.qcow2: 50% (500 of 1000 bytes)',
      'Uploading progress.qcow2: 75% (750 of 1000 bytes)',
      'Uploading progress.qcow2: 100% (1000 of 1000 bytes)'
    ])
  })
})
