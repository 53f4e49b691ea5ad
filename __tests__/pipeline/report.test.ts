import { describe, expect, it } from '@jest/globals'
import type { Context } from '../../src/pipeline/context.js'
import { bootTestHtml, bootTestOutputs } from '../../src/pipeline/report.js'

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
})
