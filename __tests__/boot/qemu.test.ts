import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { findOvmf, freePort, qemuArgv, sshBanner } from '../../src/boot/qemu.js'

describe('QEMU', () => {
  it('restricts networking to one forwarded port on 127.0.0.1 and gives UEFI its firmware', () => {
    const files = {
      overlay: '/w/overlay.qcow2',
      seed: '/w/seed.img',
      console: '/w/console.log',
      monitor: '/w/monitor.sock',
      pidFile: '/w/qemu.pid'
    }
    const bios = qemuArgv({ firmware: 'bios', accel: 'tcg', sshPort: 40022, files, limitSeconds: 960 })
    expect(bios.slice(0, 4)).toEqual(['timeout', '--kill-after=10', '960', 'qemu-system-x86_64'])
    expect(bios.join(' ')).toContain(
      '-nic user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:40022-:22'
    )
    expect(bios).toContain('tcg')
    expect(bios).not.toContain('-bios')
    const uefi = qemuArgv({
      firmware: 'uefi',
      accel: 'kvm',
      ovmf: '/ovmf.fd',
      sshPort: 1,
      files,
      limitSeconds: 60
    })
    expect(uefi.join(' ')).toContain('-bios /ovmf.fd')
    expect(uefi).toContain('kvm')
    expect(() => qemuArgv({ firmware: 'uefi', accel: 'tcg', sshPort: 1, files, limitSeconds: 60 })).toThrow()
  })

  it('finds the first OVMF file that exists', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-unit-'))
    try {
      const firmware = path.join(dir, 'OVMF.fd')
      writeFileSync(firmware, '')
      expect(findOvmf([path.join(dir, 'none'), firmware])).toBe(firmware)
      expect(findOvmf([path.join(dir, 'none')])).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('tells an SSH greeting from a port that accepts and closes (as slirp does when the guest is not listening)', async () => {
    const servers: net.Server[] = []
    const listen = async (onConnection: (socket: net.Socket) => void): Promise<number> => {
      const server = net.createServer(onConnection)
      servers.push(server)
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as net.AddressInfo).port
    }
    try {
      const sshd = await listen(socket => socket.end('SSH-2.0-OpenSSH_9.2\r\n'))
      const closes = await listen(socket => socket.destroy())
      expect(await sshBanner(sshd)).toBe(true)
      expect(await sshBanner(closes)).toBe(false)
      expect(await sshBanner(await freePort())).toBe(false)
    } finally {
      for (const server of servers) server.close()
    }
  })
})
