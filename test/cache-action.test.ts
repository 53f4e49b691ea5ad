// The pacman package cache across runs, through the built action run as the runner runs it: the real
// @actions/cache inside dist/ talks to a fake of the cache v2 service on 127.0.0.1, and packages come
// from an HTTP mirror on 127.0.0.1 that counts what is downloaded. Each run starts from an empty
// package directory, as on a fresh runner (the path string stays the same: it is part of the version).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { startCacheService, type CacheService } from './fakes/cache-service.js'
import {
  fixtureRepo,
  leaksUnder,
  runAction,
  runPost,
  scratchDir,
  serveDirectory,
  type ActionRun,
  type FileServer
} from './helpers.js'

describe('package cache across runs', () => {
  let cache: CacheService
  let mirror: FileServer
  let shared: string
  const dirs: string[] = []

  beforeAll(async () => {
    const repo = fixtureRepo()
    mirror = await serveDirectory(repo)
    cache = await startCacheService()
    shared = scratchDir()
  }, 300_000)

  afterAll(async () => {
    await mirror.close()
    await cache.close()
    for (const dir of [...dirs, shared]) execFileSync('rm', ['-rf', dir])
  })

  const packageDir = () => path.join(shared, 'pkg')

  /** One job: main, then post, on a runner whose package directory starts empty. */
  async function job(packages: string): Promise<{ run: ActionRun; post: string; downloaded: string[] }> {
    execFileSync('rm', ['-rf', packageDir()])
    const dir = scratchDir()
    dirs.push(dir)
    const seen = mirror.requests.length
    const options = {
      dir,
      env: cache.env,
      inputs: {
        mirror: `${mirror.url}/$repo/os/$arch`,
        'signature-level': 'Never',
        'pacman-from': 'host',
        configure: 'false',
        'base-packages': 'base',
        packages,
        'disk-size': '1G',
        'package-cache-dir': packageDir()
      }
    }
    const run = await runAction(options)
    const post = await runPost(options)
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    const downloaded = mirror.requests
      .slice(seen)
      .filter(p => p.endsWith('.pkg.tar.zst'))
      .map(p => path.basename(p))
    return { run, post: post.output, downloaded: downloaded.sort() }
  }

  it('first build misses, downloads everything and saves in the post step', async () => {
    const { run, post, downloaded } = await job('')
    expect(run.code).toBe(0)
    expect(run.outputs['cache-hit']).toBe('false')
    expect(run.outputs['cache-key']).toMatch(/^arch-image-pkg-v1-x86_64-/)
    expect(downloaded).toHaveLength(5)
    expect(post).toContain('package cache save: saved')
    expect(cache.entries.filter(entry => entry.finalized).map(entry => entry.key)).toEqual([
      run.outputs['cache-key']
    ])
  }, 120_000)

  it('a second identical build is an exact hit and downloads 0 packages', async () => {
    const { run, post, downloaded } = await job('')
    expect(run.code).toBe(0)
    expect(run.outputs['cache-hit']).toBe('true')
    expect(downloaded).toEqual([])
    expect(post).toContain('package cache save: exact-hit')
    expect(cache.entries.filter(entry => entry.finalized)).toHaveLength(1)
  }, 120_000)

  it('a changed package list restores by prefix and downloads only the new package', async () => {
    const { run, post, downloaded } = await job('fixture-hello')
    expect(run.code).toBe(0)
    expect(run.outputs['cache-hit']).toBe('false')
    expect(run.output).toMatch(/package cache partial/)
    expect(downloaded).toEqual(['fixture-hello-1.0-1-any.pkg.tar.zst'])
    expect(post).toContain('package cache: kept 6 package files, removed 0')
    expect(post).toContain('package cache save: saved')
  }, 120_000)

  it('a cache service answering 500 only warns; the build succeeds', async () => {
    await cache.fail('blob-500')
    try {
      const { run, post, downloaded } = await job('fixture-hello2')
      expect(run.code).toBe(0)
      expect(run.output).toMatch(/::warning::/)
      expect(downloaded).toContain('fixture-hello2-1.0-1-any.pkg.tar.zst')
      expect(post).toMatch(/::warning::.*(cache|Cache)/)
      expect(post).not.toContain('::error::')
    } finally {
      await cache.fail('none')
    }
  }, 180_000)

  it('a refused connection only warns; the build succeeds', async () => {
    await cache.fail('refuse')
    try {
      const { run, post } = await job('fixture-hello fixture-hello2')
      expect(run.code).toBe(0)
      expect(run.outputs['cache-hit']).toBe('false')
      expect(post).not.toContain('::error::')
      expect(`${run.output}\n${post}`).toMatch(/::warning::/)
    } finally {
      await cache.fail('none')
    }
  }, 180_000)
})
