import { describe, expect, it } from '@jest/globals'
import { config, problemsOf } from '../../../test/support/config.js'

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
