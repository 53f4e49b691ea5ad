import { describe, expect, it } from '@jest/globals'
import { compareBoots, judge, parseAnswers, userData, type Expected } from '../../src/boot/checks.js'

const GiB = 1024 ** 3

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

describe('seed', () => {
  it('seeds the key and a runcmd marker', () => {
    const data = userData('ssh-ed25519 AAAAC3 arch-image-boot-test\n', 'feedbeef')
    expect(data.startsWith('#cloud-config\n')).toBe(true)
    expect(data).toContain('ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3 arch-image-boot-test\n')
    expect(data).toContain("runcmd:\n  - [sh, -c, 'echo feedbeef > /var/lib/arch-image-boot-test']")
  })
})
