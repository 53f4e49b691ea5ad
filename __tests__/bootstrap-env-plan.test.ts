import { describe, expect, it } from '@jest/globals'
import {
  ENV_HOST_CACHE_DIR,
  ENV_NEW_PACKAGES_DIR,
  planEnvironment
} from '../src/bootstrap-env/environment.js'
import { bootstrapSources, isArchOsRelease, usesBootstrapTarball } from '../src/bootstrap-env/run.js'
import type { Context } from '../src/pipeline/context.js'
import { pacmanConf } from '../src/stages/bootstrap.js'
import { config } from '../test/support/config.js'

describe('planEnvironment', () => {
  it('maps the host cache read-only behind a writable download dir, and file:// repositories read-only', () => {
    const servers = ['file:///tmp/fixture repo/$repo/os/$arch']
    const conf = pacmanConf(
      config({ 'package-cache-dir': '/tmp/x/pkg', 'signature-level': 'Never' }),
      servers
    )
    const plan = planEnvironment(conf, servers)
    expect(plan.binds).toEqual([
      { source: '/tmp/x/pkg', target: ENV_HOST_CACHE_DIR, readOnly: true },
      { source: '/tmp/fixture repo', target: '/srv/arch-image/repo-0', readOnly: true }
    ])
    expect(plan.hostCacheDir).toBe('/tmp/x/pkg')
    expect(plan.conf).toContain(`CacheDir = ${ENV_NEW_PACKAGES_DIR}/\nCacheDir = ${ENV_HOST_CACHE_DIR}/\n`)
    expect(plan.conf).not.toContain('/tmp/')
    expect(
      plan.conf.match(/^Server = file:\/\/\/srv\/arch-image\/repo-0\/\$repo\/os\/\$arch$/gm)
    ).toHaveLength(2)
    expect(plan.mirrorlist).toContain('Server = file:///srv/arch-image/repo-0/$repo/os/$arch\n')
  })

  it('leaves http servers alone and keeps the rest of the configuration', () => {
    const servers = ['https://archive.archlinux.org/repos/2026/11/20/$repo/os/$arch']
    const conf = pacmanConf(config({}), servers)
    const plan = planEnvironment(conf, servers)
    expect(plan.binds).toEqual([
      { source: '/var/cache/arch-image/pkg', target: ENV_HOST_CACHE_DIR, readOnly: true }
    ])
    expect(plan.conf).toContain(`Server = ${servers[0]}`)
    expect(plan.conf).toContain('SigLevel = Required DatabaseOptional')
    expect(plan.conf).toContain('[core]')
  })

  it('refuses lines that name host paths it cannot map', () => {
    expect(() => planEnvironment('[options]\nDBPath = /var/lib/pacman\n', [])).toThrow(/names a host path/)
    expect(() => planEnvironment('[core]\nInclude = /etc/pacman.d/mirrorlist\n', [])).toThrow(
      /names a host path/
    )
  })
})

describe('pacman-from', () => {
  const arch = 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n'
  const manjaro = 'NAME="Manjaro Linux"\nID="manjaro"\nID_LIKE="arch"\n'
  const ubuntu = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'

  it('recognises Arch and distributions like it', () => {
    expect(isArchOsRelease(arch)).toBe(true)
    expect(isArchOsRelease(manjaro)).toBe(true)
    expect(isArchOsRelease(ubuntu)).toBe(false)
    expect(isArchOsRelease('ID=archarm\n')).toBe(false)
    expect(isArchOsRelease('')).toBe(false)
  })

  it('auto: the host pacman on Arch, the bootstrap tarball elsewhere; host and bootstrap as said', () => {
    expect(usesBootstrapTarball('auto', arch)).toBe(false)
    expect(usesBootstrapTarball('auto', ubuntu)).toBe(true)
    expect(usesBootstrapTarball('host', ubuntu)).toBe(false)
    expect(usesBootstrapTarball('bootstrap', arch)).toBe(true)
  })
})

describe('bootstrapSources', () => {
  const ctx = (inputs: Record<string, string>, fields: Partial<Context>) =>
    ({ config: config(inputs), servers: [], ...fields }) as Context
  const today = new Date('2026-11-25T10:00:00Z')

  it('a snapshot: the Archive release of its month, then the month before', () => {
    const sources = bootstrapSources(ctx({ snapshot: '2026/03/14' }, { snapshotDate: '2026/03/14' }), today)
    expect(sources.map(s => s.url)).toEqual([
      'https://archive.archlinux.org/iso/2026.03.01/archlinux-bootstrap-2026.03.01-x86_64.tar.zst',
      'https://archive.archlinux.org/iso/2026.02.01/archlinux-bootstrap-2026.02.01-x86_64.tar.zst'
    ])
  })

  it('mirrors: each one iso/latest, then the Archive release of this month', () => {
    const servers = [
      'https://a.example/arch/$repo/os/$arch',
      'file:///srv/repo/$repo/os/$arch',
      'https://b.example/$arch'
    ]
    const sources = bootstrapSources(ctx({ mirror: servers.join(' ') }, { servers }), today)
    expect(sources.map(s => s.url)).toEqual([
      'https://a.example/arch/iso/latest/archlinux-bootstrap-x86_64.tar.zst',
      'file:///srv/repo/iso/latest/archlinux-bootstrap-x86_64.tar.zst',
      'https://archive.archlinux.org/iso/2026.11.01/archlinux-bootstrap-2026.11.01-x86_64.tar.zst',
      'https://archive.archlinux.org/iso/2026.10.01/archlinux-bootstrap-2026.10.01-x86_64.tar.zst'
    ])
  })
})
