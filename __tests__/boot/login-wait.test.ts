import { describe, expect, it } from '@jest/globals'
import { lastConsoleLine } from '../../src/boot/console.js'
import {
  heartbeatLine,
  KvmUnusable,
  waitForLogin,
  type LoginProbe,
  type LoginWait
} from '../../src/boot/login-wait.js'

/** A guest on a fake clock: each hook is asked with the milliseconds since power-on. The console
 * is text already (the machine's probe reads it through consoleText). */
interface Guest {
  console?: (t: number) => string
  exited?: (t: number) => { code: number; stderr: string } | undefined
  banner?: (t: number) => boolean
  login?: (t: number) => { code: number; stderr: string }
}

function probeFor(guest: Guest): { probe: LoginProbe; lines: string[]; logins: number[] } {
  let t = 0
  const lines: string[] = []
  const logins: number[] = []
  const probe: LoginProbe = {
    now: () => t,
    sleep: async ms => {
      t += ms
    },
    console: () => guest.console?.(t) ?? '',
    exited: () => guest.exited?.(t),
    banner: async () => guest.banner?.(t) ?? false,
    login: async () => {
      logins.push(t)
      t += 500 // an SSH round trip
      return guest.login?.(t) ?? { code: 255, stderr: 'Connection refused' }
    },
    log: message => lines.push(message)
  }
  return { probe, lines, logins }
}

const wait: LoginWait = { firmware: 'bios', accel: 'tcg', user: 'arch', started: 0, timeoutSeconds: 900 }

describe('waiting for the first SSH login', () => {
  it('logs in once sshd greets, with a heartbeat every 30 s naming the firmware, accel and console', async () => {
    const { probe, lines, logins } = probeFor({
      console: t =>
        t < 40_000 ? '' : '[    1.0] Linux version 6.1\n[  OK  ] Reached\ttarget multi-user.target\x07\n  \n',
      banner: t => t >= 95_000,
      login: () => ({ code: 0, stderr: '' })
    })
    expect(await waitForLogin(probe, wait)).toEqual({ ok: true, seconds: 96.5 })
    expect(logins).toEqual([96_000])
    expect(lines).toEqual([
      'boot test bios (tcg): waiting for SSH for 30 s; console: (nothing yet)',
      'boot test bios (tcg): waiting for SSH for 60 s; console: [  OK  ] Reached target multi-user.target',
      'boot test bios (tcg): waiting for SSH for 90 s; console: [  OK  ] Reached target multi-user.target'
    ])
  })

  it('fails at the qemu check when QEMU exits, with the end of its stderr', async () => {
    const { probe } = probeFor({
      exited: t => (t > 6000 ? { code: 1, stderr: 'could not open disk\n' } : undefined)
    })
    expect(await waitForLogin(probe, wait)).toEqual({
      ok: false,
      check: {
        name: 'qemu',
        ok: false,
        detail: 'QEMU exited with code 1 before SSH answered: could not open disk'
      }
    })
  })

  it('gives up on KVM when QEMU names it on exit or the console stays silent for 60 s', async () => {
    const kvm = { ...wait, accel: 'kvm' as const }
    const exits = probeFor({ exited: () => ({ code: 1, stderr: 'KVM_RUN failed' }) })
    await expect(waitForLogin(exits.probe, kvm)).rejects.toThrow(KvmUnusable)
    const silent = probeFor({})
    await expect(waitForLogin(silent.probe, kvm)).rejects.toThrow(
      /printed nothing on the serial console in 60 s/
    )
    expect(silent.probe.now()).toBeGreaterThan(60_000)
    expect(silent.probe.now()).toBeLessThan(70_000)
    // The same silence under TCG is only slow.
    const tcg = probeFor({ banner: t => t > 200_000, login: () => ({ code: 0, stderr: '' }) })
    expect(await waitForLogin(tcg.probe, wait)).toMatchObject({ ok: true })
  })

  it('fails at ssh-login when sshd refuses the seeded key for a minute', async () => {
    const { probe, logins } = probeFor({
      banner: t => t > 50_000,
      login: () => ({ code: 255, stderr: 'arch@127.0.0.1: Permission denied (publickey).' })
    })
    const login = await waitForLogin(probe, wait)
    expect(login).toMatchObject({ ok: false, check: { name: 'ssh-login' } })
    expect(!login.ok && login.check.detail).toMatch(/refused the seeded key for arch for 60 s/)
    expect(probe.now() - (logins[0] as number)).toBeGreaterThan(60_000)
    expect(probe.now() - (logins[0] as number)).toBeLessThan(66_000)
  })

  it('fails at ssh when cloud-init finished but sshd stays silent for 30 s', async () => {
    const { probe } = probeFor({
      console: t => (t > 100_000 ? 'Cloud-init v. 24.1 finished at Thu, 26 Nov 2026\n' : 'booting\n')
    })
    const login = await waitForLogin(probe, wait)
    expect(login).toMatchObject({ ok: false, check: { name: 'ssh' } })
    expect(!login.ok && login.check.detail).toMatch(/cloud-init reported the boot finished/)
    expect(probe.now()).toBeGreaterThan(130_000)
    expect(probe.now()).toBeLessThan(136_000)
  })

  it('fails at the timeout: ssh when nothing answered, ssh-login when the key was refused', async () => {
    const short = { ...wait, timeoutSeconds: 120 }
    const silent = probeFor({})
    expect(await waitForLogin(silent.probe, short)).toEqual({
      ok: false,
      check: { name: 'ssh', ok: false, detail: 'sshd did not answer within 120 s' }
    })
    const refusing = probeFor({
      banner: t => t > 100_000,
      login: () => ({ code: 255, stderr: 'Permission denied (publickey).' })
    })
    expect(await waitForLogin(refusing.probe, short)).toMatchObject({
      ok: false,
      check: { name: 'ssh-login', detail: 'sshd kept refusing the seeded key for arch until the timeout' }
    })
  })
})

describe('the heartbeat line', () => {
  it('takes the last console line with something on it, without control characters, at most 120 characters', () => {
    expect(lastConsoleLine('one\ntwo  \n \n\t\n')).toBe('two')
    expect(lastConsoleLine('\x07beep\x00 \x9b')).toBe('beep')
    expect(lastConsoleLine('')).toBe('')
    const long = lastConsoleLine('x'.repeat(300))
    expect(long).toHaveLength(120)
    expect(long.endsWith('…')).toBe(true)
    expect(heartbeatLine('uefi', 'kvm', 29_600, 'Booting `Arch Linux`\n')).toBe(
      'boot test uefi (kvm): waiting for SSH for 30 s; console: Booting `Arch Linux`'
    )
  })
})
