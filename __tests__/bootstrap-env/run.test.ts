import { describe, expect, it } from '@jest/globals'
import { bootstrapSources, isArchOsRelease, usesBootstrapTarball } from '../../src/bootstrap-env/run.js'
import type { Context } from '../../src/pipeline/context.js'
import { config } from '../../test/support/config.js'

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
