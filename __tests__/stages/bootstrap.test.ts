import { describe, expect, it } from '@jest/globals'
import { packageList, pacmanConf } from '../../src/stages/bootstrap.js'
import { config as configOf } from '../../test/support/config.js'

const config = configOf({ 'package-cache-dir': '/var/cache/ai' }, { cwd: '/w' })

describe('pacman.conf', () => {
  const text = pacmanConf(config, ['https://a.example/$repo/os/$arch', 'file:///srv/$repo/os/$arch'])

  it('names architecture, host cache, SigLevel and both repositories with every server', () => {
    expect(text).toContain('Architecture = x86_64\n')
    expect(text).toContain('CacheDir = /var/cache/ai/\n')
    expect(text).toContain('SigLevel = Required DatabaseOptional\n')
    expect(text).toContain('CheckSpace\n')
    for (const repo of ['core', 'extra']) {
      expect(text).toContain(
        `[${repo}]\nServer = https://a.example/$repo/os/$arch\nServer = file:///srv/$repo/os/$arch\n`
      )
    }
  })

  it('never sets DBPath, LogFile, RootDir or GPGDir (pacstrap puts them in the image)', () => {
    expect(text).not.toMatch(/^\s*(DBPath|LogFile|RootDir|GPGDir)\b/m)
  })
})

describe('package set', () => {
  it('swaps linux for the chosen kernel and adds the root filesystem tools when configuring, and leaves a bare set alone', () => {
    expect(packageList(configOf({ kernel: 'linux-lts', packages: 'htop' }))).toEqual([
      'base',
      'linux-lts',
      'grub',
      'openssh',
      'sudo',
      'btrfs-progs',
      'dosfstools',
      'efibootmgr',
      'qemu-guest-agent',
      'cloud-init',
      'cloud-guest-utils',
      'gptfdisk',
      'e2fsprogs',
      'htop'
    ])
    expect(packageList(configOf({ filesystem: 'btrfs' }))).not.toContain('e2fsprogs')
    expect(packageList(configOf({ configure: 'false', 'base-packages': 'base', packages: 'vim' }))).toEqual([
      'base',
      'vim'
    ])
  })
})
