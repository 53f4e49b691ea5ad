import { describe, expect, it } from '@jest/globals'
import type { PacmanFrom } from '../src/config/config.js'
import { pacmanConf } from '../src/stages/bootstrap.js'
import { snapshotServer, unixTimeToArchiveDate } from '../src/stages/resolve.js'
import { convertArgs, qemuImgPercent, sha256sums } from '../src/stages/convert.js'
import { partitionNode, partitionScript } from '../src/stages/disk.js'
import { fstabText } from '../src/stages/fstab.js'
import { requiredTools } from '../src/stages/host.js'
import { hostFamily } from '../src/util/os-release.js'
import { manifestText } from '../src/image/rootfs.js'
import { config as configOf } from '../test/support/config.js'

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

describe('snapshots', () => {
  it('turns lastsync into the Archive date (UTC) and its server line', () => {
    expect(unixTimeToArchiveDate(1764028800)).toBe('2025/11/25')
    expect(unixTimeToArchiveDate(1764115199)).toBe('2025/11/25')
    expect(snapshotServer(config, '2025/11/25')).toBe(
      'https://archive.archlinux.org/repos/2025/11/25/$repo/os/$arch'
    )
  })
})

describe('disk layout', () => {
  it('is GPT with BIOS boot, a 300 MiB ESP and an x86-64 root partition', () => {
    expect(partitionScript()).toBe(
      [
        'label: gpt',
        'size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"',
        'size=300MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"',
        'type=4F68BCE3-E8CD-4D65-96E7-FBCAF984B709, name="root"',
        ''
      ].join('\n')
    )
  })

  it('names partition nodes as the kernel does', () => {
    expect(partitionNode('/dev/loop7', 3)).toBe('/dev/loop7p3')
    expect(partitionNode('/dev/sda', 1)).toBe('/dev/sda1')
  })
})

describe('fstab', () => {
  it('mounts root and the ESP by UUID, fsck order 1 for ext4', () => {
    const lines = fstabText('ext4', 'r-uuid', 'E-UUID').split('\n')
    expect(lines[1]?.split(/\s+/)).toEqual(['UUID=r-uuid', '/', 'ext4', 'rw,relatime', '0', '1'])
    expect(lines[2]?.split(/\s+/)).toEqual([
      'UUID=E-UUID',
      '/efi',
      'vfat',
      'rw,relatime,umask=0077,nofail',
      '0',
      '2'
    ])
  })

  it('mounts btrfs with zstd:1 compression and no fsck', () => {
    const root = fstabText('btrfs', 'r', 'e').split('\n')[1]?.split(/\s+/)
    expect(root).toEqual(['UUID=r', '/', 'btrfs', 'rw,relatime,compress=zstd:1', '0', '0'])
  })
})

describe('convert', () => {
  it('compresses qcow2 with the chosen algorithm or not at all', () => {
    expect(convertArgs('zlib', 'a.raw', 'b')).toEqual([
      'qemu-img',
      'convert',
      '-p',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-c',
      '-o',
      'compression_type=zlib',
      'a.raw',
      'b'
    ])
    expect(convertArgs('zstd', 'a', 'b')).toContain('compression_type=zstd')
    expect(convertArgs('none', 'a', 'b')).not.toContain('-c')
  })

  it("reads qemu-img's progress meter and nothing else as progress", () => {
    expect(qemuImgPercent('    (0.00/100%)')).toBe(0)
    expect(qemuImgPercent('    (47.25/100%)')).toBe(47.25)
    expect(qemuImgPercent('    (100.00/100%)')).toBe(100)
    expect(qemuImgPercent('qemu-img: warning: (50/100%) of something')).toBeUndefined()
    expect(qemuImgPercent('(12.5/200%)')).toBeUndefined()
  })

  it('writes SHA256SUMS in the format sha256sum -c reads', () => {
    expect(
      sha256sums([
        { sha256: 'ab', file: 'x.qcow2' },
        { sha256: 'cd', file: 'x.manifest' }
      ])
    ).toBe('ab  x.qcow2\ncd  x.manifest\n')
  })

  it('writes the manifest as name and version per line', () => {
    expect(
      manifestText([
        { name: 'base', version: '3-2' },
        { name: 'linux', version: '6.17.1.arch1-1' }
      ])
    ).toBe('base 3-2\nlinux 6.17.1.arch1-1\n')
  })
})

describe('host', () => {
  it.each([
    ['ID=arch\n', 'arch'],
    ['ID=endeavouros\nID_LIKE=arch\n', 'arch'],
    ['ID=debian\n', 'debian'],
    ['ID=ubuntu\nID_LIKE=debian\n', 'debian'],
    ['ID="linuxmint"\nID_LIKE="ubuntu debian"\n', 'debian'],
    ['ID=fedora\n', 'other']
  ])('%j is a %s host', (osRelease, family) => {
    expect(hostFamily(osRelease)).toBe(family)
  })

  it('needs the tool of the chosen filesystem only', () => {
    const tools = (filesystem: string, configure = true, bootMode = 'hybrid') =>
      requiredTools({
        disk: { filesystem },
        configure: { enabled: configure, bootMode }
      } as unknown as Parameters<typeof requiredTools>[0]).map(t => t.command)
    expect(tools('btrfs')).toContain('mkfs.btrfs')
    expect(tools('btrfs')).not.toContain('mkfs.ext4')
    expect(tools('ext4')).toContain('mcopy')
    expect(tools('ext4', true, 'bios')).not.toContain('mcopy')
    expect(tools('ext4', false)).not.toContain('mcopy')
    expect(requiredTools(config).find(t => t.command === 'pacstrap')?.debian).toBe('arch-install-scripts')
  })

  it("needs gpgv (the tarball's signature) and arch-chroot when pacstrap runs inside the bootstrap tarball", () => {
    const bootstrapTools = (pacmanFrom: PacmanFrom, osRelease: string) =>
      requiredTools({ ...config, packages: { ...config.packages, pacmanFrom } }, osRelease)
        .filter(tool => ['gpgv', 'arch-chroot'].includes(tool.command))
        .map(tool => `${tool.command}:${tool.debian}`)
    const ubuntu = 'ID=ubuntu\nID_LIKE=debian\n'
    expect(bootstrapTools('bootstrap', ubuntu)).toEqual(['gpgv:gpgv', 'arch-chroot:arch-install-scripts'])
    expect(bootstrapTools('auto', ubuntu)).toHaveLength(2)
    expect(bootstrapTools('auto', 'ID=arch\n')).toEqual([])
    expect(bootstrapTools('host', ubuntu)).toEqual([])
  })
})
