import { describe, expect, it } from '@jest/globals'
import {
  CACHE_KEY_PREFIX,
  cacheKey,
  dateBucket,
  MAX_KEY_LENGTH,
  type CacheKeyInput
} from '../../src/cache/key.js'

const mirror: CacheKeyInput = {
  architecture: 'x86_64',
  servers: ['https://geo.mirror.pkgbuild.com/$repo/os/$arch'],
  packages: ['base', 'linux', 'grub', 'openssh'],
  today: new Date('2025-06-10T12:00:00Z')
}
const archive = (date: string): CacheKeyInput => ({
  architecture: 'x86_64',
  servers: [`https://archive.archlinux.org/repos/${date}/$repo/os/$arch`],
  snapshot: date,
  packages: ['base', 'linux'],
  today: new Date('2025-06-10T12:00:00Z')
})

describe('cacheKey', () => {
  it('is the architecture, a servers hash, a packages hash and a date bucket; restore keys are its prefixes', () => {
    const { key, restoreKeys } = cacheKey(mirror)
    expect(key).toMatch(/^arch-image-pkg-v1-x86_64-s[0-9a-f]{16}-p[0-9a-f]{16}-d20250610$/)
    expect(key.startsWith(CACHE_KEY_PREFIX)).toBe(true)
    expect(restoreKeys).toHaveLength(3)
    for (const prefix of restoreKeys) expect(key.startsWith(prefix)).toBe(true)
    // Most specific first: same set, then same servers, then same architecture.
    expect(restoreKeys.map(k => k.length)).toEqual([...restoreKeys.map(k => k.length)].sort((a, b) => b - a))
    expect(restoreKeys[2]).toBe('arch-image-pkg-v1-x86_64-')
    expect(cacheKey(mirror)).toEqual({ key, restoreKeys })
  })

  it('ignores the order and repetition of packages but not their names', () => {
    const a = cacheKey(mirror)
    const b = cacheKey({ ...mirror, packages: ['openssh', 'linux', 'base', 'grub', 'linux'] })
    const c = cacheKey({ ...mirror, packages: [...mirror.packages, 'vim'] })
    expect(b.key).toBe(a.key)
    expect(c.key).not.toBe(a.key)
    expect(c.restoreKeys[1]).toBe(a.restoreKeys[1])
    expect(c.restoreKeys[0]).not.toBe(a.restoreKeys[0])
  })

  it('separates servers', () => {
    const other = cacheKey({ ...mirror, servers: ['https://mirror.example.org/archlinux/$repo/os/$arch'] })
    expect(other.restoreKeys[1]).not.toBe(cacheKey(mirror).restoreKeys[1])
    expect(other.restoreKeys[2]).toBe(cacheKey(mirror).restoreKeys[2])
  })

  it('a rolling mirror gets a new key each UTC day; the same set of another day is the first fallback', () => {
    const today = cacheKey(mirror)
    const late = cacheKey({ ...mirror, today: new Date('2025-06-10T23:59:59Z') })
    const tomorrow = cacheKey({ ...mirror, today: new Date('2025-06-11T00:00:01Z') })
    expect(late.key).toBe(today.key)
    expect(tomorrow.key).not.toBe(today.key)
    expect(today.key.startsWith(tomorrow.restoreKeys[0]!)).toBe(true)
  })

  it('a snapshot is pinned: its key does not change with the day; other snapshots share the source prefix', () => {
    const june = cacheKey(archive('2025/06/01'))
    const later = cacheKey({ ...archive('2025/06/01'), today: new Date('2026-01-01T00:00:00Z') })
    const july = cacheKey(archive('2025/07/01'))
    expect(june.key).toMatch(/-snap20250601$/)
    expect(later.key).toBe(june.key)
    expect(july.key).not.toBe(june.key)
    // Every snapshot of the Archive is one source: a new snapshot restores the last one's packages.
    expect(july.restoreKeys[0]).toBe(june.restoreKeys[0])
    expect(june.key.startsWith(july.restoreKeys[0]!)).toBe(true)
    // ... but not a mirror's.
    expect(cacheKey({ ...mirror, packages: ['base', 'linux'] }).restoreKeys[1]).not.toBe(june.restoreKeys[1])
  })

  it('stays short and free of commas whatever the input', () => {
    const { key, restoreKeys } = cacheKey({
      architecture: 'x86_64,evil arch/../',
      servers: Array.from(
        { length: 50 },
        (_, i) => `https://m${i}.example/${'x'.repeat(200)}/$repo/os/$arch`
      ),
      packages: Array.from({ length: 2000 }, (_, i) => `package-${i}`)
    })
    expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH)
    expect(key.length).toBeLessThan(100)
    for (const k of [key, ...restoreKeys]) expect(k).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it('dateBucket', () => {
    expect(dateBucket(undefined, new Date('2024-12-31T23:00:00Z'))).toBe('d20241231')
    expect(dateBucket('2024/12/31', new Date('2025-03-01T00:00:00Z'))).toBe('snap20241231')
  })
})
