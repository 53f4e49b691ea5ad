import { describe, expect, it } from '@jest/globals'
import type { PacmanFrom } from '../../src/config/config.js'
import { requiredTools } from '../../src/stages/host.js'
import { config as configOf } from '../../test/support/config.js'

const config = configOf({ 'package-cache-dir': '/var/cache/ai' }, { cwd: '/w' })

describe('host', () => {
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
