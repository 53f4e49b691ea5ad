import { describe, expect, it } from '@jest/globals'
import {
  ENV_HOST_CACHE_DIR,
  ENV_NEW_PACKAGES_DIR,
  planEnvironment
} from '../../src/bootstrap-env/environment.js'
import { pacmanConf } from '../../src/stages/bootstrap.js'
import { config } from '../../test/support/config.js'

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
