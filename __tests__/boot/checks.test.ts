import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { compareBoots, judge, parseAnswers, userData, type Expected } from '../../src/boot/checks.js'
import { consoleText } from '../../src/boot/console.js'
import { sshArgv } from '../../src/boot/machine.js'
import { findOvmf, freePort, qemuArgv, sshBanner } from '../../src/boot/qemu.js'
import { bootTestHtml, bootTestOutputs } from '../../src/pipeline/report.js'
import type { Context } from '../../src/pipeline/context.js'
import { config, problemsOf } from '../../test/support/config.js'

const GiB = 1024 ** 3

describe('boot-test inputs', () => {
  it('boots both firmwares by default, 900 s each, no script, KVM decided by the host (kvm: auto)', () => {
    expect(config({}).bootTest).toEqual({
      enabled: true,
      firmware: ['bios', 'uefi'],
      timeoutSeconds: 900,
      script: '',
      kvm: 'auto'
    })
  })

  it('takes kvm: auto, true or false, and names the input otherwise', () => {
    expect(config({ kvm: 'false' }).bootTest.kvm).toBe('false')
    expect(problemsOf({ kvm: 'yes' })).toEqual([expect.stringMatching(/^kvm: .*yes.*auto, true, false/)])
  })

  it('follows boot-mode when the firmware is left at its default', () => {
    expect(config({ 'boot-mode': 'uefi' }).bootTest.firmware).toEqual(['uefi'])
    expect(config({ 'boot-mode': 'bios' }).bootTest.firmware).toEqual(['bios'])
  })

  it('names every bad boot-test input', () => {
    expect(
      problemsOf({
        'boot-test': 'maybe',
        'boot-test-firmware': 'bios coreboot',
        'boot-test-timeout': '5'
      })
    ).toEqual([
      'boot-test: "maybe" is not accepted; use true or false',
      'boot-test-firmware: "coreboot" is not accepted; use one of bios, uefi',
      'boot-test-timeout: "5" is not accepted; use whole seconds from 60 to 7200'
    ])
    expect(problemsOf({ 'boot-mode': 'bios', 'boot-test-firmware': 'uefi' })).toEqual([
      'boot-test-firmware: "uefi" does not match boot-mode "bios"; use bios'
    ])
  })

  it('keeps the script as written', () => {
    expect(
      config({ 'boot-test': 'false', 'boot-test-script': 'pacman -Q linux\ntest -e /etc/foo\n' }).bootTest
    ).toMatchObject({
      enabled: false,
      script: 'pacman -Q linux\ntest -e /etc/foo'
    })
  })
})

const expected: Expected = {
  firmware: 'uefi',
  user: 'arch',
  hostname: 'arch-image-test-abc123',
  marker: 'abc1234567890def',
  diskBytes: 4 * GiB,
  imageBytes: 2 * GiB
}

const healthy = [
  'user=arch',
  'sudo=ok',
  'cloud-init-exit=0',
  'cloud-init=',
  'cloud-init=status: done',
  'cloud-init=time: Wed, 25 Nov 2026 16:54:30 +0000',
  'hostname=archlinux',
  'static-hostname=arch-image-test-abc123',
  'marker=abc1234567890def',
  `root-bytes=${Math.round(3.6 * GiB)}`,
  'machine-id=5f0c2e0d9b1a4c7e8f6a1b2c3d4e5f60',
  'host-key=ssh-ed25519 AAAAkeyone',
  'host-key=ecdsa-sha2-nistp256 AAAAkeytwo',
  'firmware=uefi',
  'system=running',
  'probe=done'
].join('\n')

function failedChecks(text: string): string[] {
  return judge(parseAnswers(text), expected)
    .filter(check => !check.ok)
    .map(check => check.name)
}

describe('judging a boot', () => {
  it('passes a healthy guest', () => {
    expect(failedChecks(healthy)).toEqual([])
  })

  it.each([
    ['sudo=ok', 'sudo=refused', 'sudo'],
    ['cloud-init=status: done', 'cloud-init=status: error', 'cloud-init'],
    ['cloud-init-exit=0', 'cloud-init-exit=1', 'cloud-init'],
    ['static-hostname=arch-image-test-abc123', 'static-hostname=archlinux', 'hostname'],
    ['marker=abc1234567890def', 'marker=', 'runcmd'],
    [`root-bytes=${Math.round(3.6 * GiB)}`, `root-bytes=${Math.round(1.6 * GiB)}`, 'root-grown'],
    ['machine-id=5f0c2e0d9b1a4c7e8f6a1b2c3d4e5f60', 'machine-id=', 'machine-id'],
    ['firmware=uefi', 'firmware=bios', 'firmware'],
    ['probe=done', 'probe=', 'probe'],
    ['system=running', 'system=degraded\nfailed=pacman-init.service', 'failed-units']
  ])('fails on %s → %s naming %s', (from, to, name) => {
    expect(failedChecks(healthy.replace(from, to))).toEqual([name])
  })

  it('takes cloud-init 24 "done" with recoverable errors, not an errors list', () => {
    const v24 = healthy.replace('cloud-init-exit=0', 'cloud-init-exit=2')
    expect(failedChecks(`${v24}\ncloud-init=errors: []`)).toEqual([])
    expect(failedChecks(`${v24}\ncloud-init=errors: ['boom']`)).toEqual(['cloud-init'])
  })

  it('fails when the guest has no host keys', () => {
    expect(failedChecks(healthy.replace(/^host-key=.*\n/gm, ''))).toEqual(['host-keys'])
  })

  it('compares host keys and machine-id across boots', () => {
    const bios = parseAnswers(healthy)
    const fresh = parseAnswers(
      healthy
        .replace('AAAAkeyone', 'AAAAkeythree')
        .replace('AAAAkeytwo', 'AAAAkeyfour')
        .replace('5f0c2e', '000000')
    )
    expect(compareBoots([{ firmware: 'bios', answers: bios }]).length).toBe(0)
    expect(
      compareBoots([
        { firmware: 'bios', answers: bios },
        { firmware: 'uefi', answers: fresh }
      ]).every(check => check.ok)
    ).toBe(true)
    const same = compareBoots([
      { firmware: 'bios', answers: bios },
      { firmware: 'uefi', answers: parseAnswers(healthy) }
    ])
    expect(same.filter(check => !check.ok).map(check => check.name)).toEqual(['host-keys', 'machine-id'])
  })
})

describe('seed, QEMU and SSH command lines', () => {
  it('seeds the key and a runcmd marker', () => {
    const data = userData('ssh-ed25519 AAAAC3 arch-image-boot-test\n', 'feedbeef')
    expect(data.startsWith('#cloud-config\n')).toBe(true)
    expect(data).toContain('ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3 arch-image-boot-test\n')
    expect(data).toContain("runcmd:\n  - [sh, -c, 'echo feedbeef > /var/lib/arch-image-boot-test']")
  })

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

  it('logs in with the throw-away key only, never asking or trusting', () => {
    const argv = sshArgv('/w/key', 40022, 'arch', 'true')
    expect(argv.join(' ')).toBe(
      'ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR -i /w/key -p 40022 arch@127.0.0.1 true'
    )
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

describe('report', () => {
  const ctx = {
    bootTest: {
      result: 'failed',
      across: [],
      boots: [
        {
          firmware: 'bios',
          accel: 'tcg',
          seconds: 141.26,
          checks: [{ name: 'ssh-login', ok: true, detail: 'arch logged in after 141 s' }],
          consoleTail: ''
        },
        {
          firmware: 'uefi',
          accel: 'tcg',
          checks: [{ name: 'ssh', ok: false, detail: 'sshd did not answer <in time>' }],
          consoleLog: '/out/img.boot-test-uefi.log',
          consoleTail: 'archlinux login: <'
        }
      ]
    }
  } as unknown as Context

  it('gives the result and the seconds to SSH per firmware', () => {
    expect(bootTestOutputs(ctx)).toEqual({ 'boot-test': 'failed', 'boot-seconds': '{"bios":141.3}' })
    expect(bootTestOutputs({} as Context)).toEqual({ 'boot-test': 'skipped', 'boot-seconds': '{}' })
  })

  it('shows the failed check and the console tail, escaped', () => {
    const text = bootTestHtml(ctx)
    expect(text).toContain('<h3>Boot test: failed</h3>')
    expect(text).toContain(
      '<td>uefi</td><td>ssh</td><td><b>failed</b></td><td>sshd did not answer &lt;in time&gt;</td>'
    )
    expect(text).toContain('the whole log: /out/img.boot-test-uefi.log')
    expect(text).toContain('<pre>archlinux login: &lt;</pre>')
    expect(text).not.toContain('Serial console of the bios boot')
  })

  it('strips terminal colours from the console', () => {
    expect(consoleText('[\x1b[0;32m  OK  \x1b[0m] Started\r\n')).toBe('[  OK  ] Started\n')
    // GRUB's and OVMF's screen drawing
    expect(consoleText('\x1b[=3h\x1b[?25l\x1b[2J\x1b[01;01H\x1b(B\x1b7GNU GRUB\x1b8\x1b[K')).toBe('GNU GRUB')
  })
})
