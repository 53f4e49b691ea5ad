// The `kvm` input's decisions with the host's facts injected, and what opening the device runs.
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import {
  acceleratorFor,
  decideKvm,
  openKvmDevice,
  tcgNotice,
  KVM_UDEV_RULE,
  type KvmFacts
} from '../../src/boot/kvm.js'
import { RecordingExec } from '../../test/support/exec.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'

const hostedClosed: KvmFacts = { runnerEnvironment: 'github-hosted', deviceExists: true, accessible: false }
const selfHostedClosed: KvmFacts = { runnerEnvironment: 'self-hosted', deviceExists: true, accessible: false }
const open: KvmFacts = { runnerEnvironment: 'self-hosted', deviceExists: true, accessible: true }
const none: KvmFacts = { runnerEnvironment: 'github-hosted', deviceExists: false, accessible: false }

describe('kvm: auto', () => {
  it('uses a /dev/kvm that opens', () => {
    expect(decideKvm('auto', open)).toEqual({ action: 'use', accel: 'kvm' })
  })
  it('opens it on a GitHub-hosted runner where it exists but is closed to the user', () => {
    expect(decideKvm('auto', hostedClosed)).toEqual({ action: 'open', required: false })
  })
  it('never changes a self-hosted runner, or a machine outside Actions: TCG, with a notice saying why', () => {
    expect(decideKvm('auto', selfHostedClosed)).toEqual({ action: 'use', accel: 'tcg' })
    expect(decideKvm('auto', { deviceExists: true, accessible: false })).toEqual({
      action: 'use',
      accel: 'tcg'
    })
    expect(tcgNotice('auto', selfHostedClosed)).toMatch(
      /self-hosted runner arch-image does not change device permissions/
    )
  })
  it('TCG without a word where there is no /dev/kvm', () => {
    expect(decideKvm('auto', none)).toEqual({ action: 'use', accel: 'tcg' })
    expect(tcgNotice('auto', none)).toBeUndefined()
  })
})

describe('kvm: true and false', () => {
  it('true opens a closed device anywhere it exists, and requires it', () => {
    expect(decideKvm('true', selfHostedClosed)).toEqual({ action: 'open', required: true })
    expect(decideKvm('true', hostedClosed)).toEqual({ action: 'open', required: true })
    expect(decideKvm('true', open)).toEqual({ action: 'use', accel: 'kvm' })
  })
  it('true refuses a host without /dev/kvm, naming the input', () => {
    expect(decideKvm('true', none)).toEqual({
      action: 'refuse',
      reason: 'kvm: true, but this host has no /dev/kvm; use kvm: auto or false'
    })
  })
  it('false is TCG and never touches the device, even on a hosted runner', () => {
    for (const facts of [open, hostedClosed, selfHostedClosed, none]) {
      expect(decideKvm('false', facts)).toEqual({ action: 'use', accel: 'tcg' })
      expect(tcgNotice('false', facts)).toBeUndefined()
    }
  })
})

describe('openKvmDevice', () => {
  it('installs the udev rule as root, reloads, triggers the kvm node and settles, and says so', async () => {
    const exec = new RecordingExec()
    const log = new MemoryLog()
    const dir = tempDir()
    await openKvmDevice(exec, log, dir)
    expect(exec.lines).toEqual([
      `install -D -m 0644 -- ${dir}/kvm.rules /etc/udev/rules.d/99-arch-image-kvm.rules`,
      'udevadm control --reload-rules',
      'udevadm trigger --name-match=kvm',
      'udevadm settle --timeout=10'
    ])
    expect(exec.commands.every(command => command.options.privileged)).toBe(true)
    expect(readFileSync(`${dir}/kvm.rules`, 'utf8')).toBe(KVM_UDEV_RULE)
    expect(log.lines[0]).toMatch(/^opening \/dev\/kvm to the runner's user with a udev rule/)
  })
})

describe('acceleratorFor', () => {
  const run = () => ({ exec: new RecordingExec(), log: new MemoryLog(), workDir: tempDir() })
  /** The host's facts before and after opening. */
  const facts =
    (...seen: KvmFacts[]) =>
    () =>
      seen.shift() ?? (seen[0] as KvmFacts)
  const opened: KvmFacts = { ...hostedClosed, accessible: true }

  it('QEMU_ACCEL decides before anything else', async () => {
    const r = run()
    expect(await acceleratorFor('true', r, { QEMU_ACCEL: 'tcg' }, facts(none))).toBe('tcg')
    expect(r.exec.commands).toEqual([])
  })

  it('auto on a hosted runner opens a closed device and uses KVM once it opens', async () => {
    const r = run()
    expect(await acceleratorFor('auto', r, {}, facts(hostedClosed, opened))).toBe('kvm')
    expect(r.exec.lines).toContain('udevadm trigger --name-match=kvm')
    expect(r.log.lines).toContain('/dev/kvm opens for this user now: the boot test uses KVM')
  })

  it('auto: a device that stays closed means TCG with a warning; true fails instead', async () => {
    const r = run()
    expect(await acceleratorFor('auto', r, {}, facts(hostedClosed, hostedClosed))).toBe('tcg')
    expect(r.log.lines.at(-1)).toMatch(/^warning: \/dev\/kvm exists but this user cannot open it/)
    await expect(
      acceleratorFor('true', run(), {}, facts(selfHostedClosed, selfHostedClosed))
    ).rejects.toThrow('kvm: true, but /dev/kvm still cannot be opened after the udev rule')
  })

  it('auto on a self-hosted runner and false never run a command', async () => {
    for (const [setting, seen] of [
      ['auto', selfHostedClosed],
      ['false', hostedClosed]
    ] as const) {
      const r = run()
      expect(await acceleratorFor(setting, r, {}, facts(seen))).toBe('tcg')
      expect(r.exec.commands).toEqual([])
    }
  })

  it('true without a device fails naming the input', async () => {
    await expect(acceleratorFor('true', run(), {}, facts(none))).rejects.toThrow(
      'kvm: true, but this host has no /dev/kvm'
    )
  })
})
