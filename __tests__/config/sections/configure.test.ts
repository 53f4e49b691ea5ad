import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { tempDir } from '../../../test/support/temp-dir.js'
import { config, problemsOf } from '../../../test/support/config.js'

describe('configure inputs', () => {
  it('has cloud image defaults', () => {
    expect(config().configure).toMatchObject({
      enabled: true,
      kernel: 'linux',
      bootMode: 'hybrid',
      kernelCmdline: '',
      predictableNicNames: false,
      user: 'arch',
      userGroups: ['wheel'],
      locale: 'C.UTF-8',
      timezone: 'UTC',
      hostname: 'archlinux',
      keymap: 'us',
      scripts: []
    })
  })

  it('reads hook scripts as point: path lines, relative to the workspace', () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'a.sh'), '#!/bin/sh\n')
    writeFileSync(path.join(dir, 'b.sh'), '#!/bin/sh\n')
    const c = config(
      { scripts: 'after-configure: a.sh\nbefore-seal: [b.sh, a.sh]\n', files: '.' },
      { cwd: dir }
    )
    expect(c.configure.scripts).toEqual([
      { point: 'after-configure', path: path.join(dir, 'a.sh') },
      { point: 'before-seal', path: path.join(dir, 'b.sh') },
      { point: 'before-seal', path: path.join(dir, 'a.sh') }
    ])
    expect(c.configure.filesDir).toBe(dir)
  })

  it.each([
    [{ configure: 'yes' }, /^configure: "yes" is not accepted; use true or false$/],
    [{ kernel: 'linux-zen' }, /^kernel: "linux-zen" is not accepted; use one of linux, linux-lts$/],
    [{ 'boot-mode': 'efi' }, /^boot-mode: "efi" is not accepted; use one of hybrid, bios, uefi$/],
    [
      { 'kernel-cmdline': 'quiet "$(reboot)"' },
      /^kernel-cmdline: .* is not accepted; use parameters of letters/
    ],
    [{ 'predictable-nic-names': 'maybe' }, /^predictable-nic-names: "maybe" is not accepted/],
    [{ datasources: 'OpenStack Azur' }, /^datasources: "Azur" is not a cloud-init datasource; use some of /],
    [{ user: 'root' }, /^user: "root" is not accepted; use a lower-case login name/],
    [{ user: 'Admin' }, /^user: "Admin" is not accepted/],
    [{ 'user-groups': 'wheel Sudo!' }, /^user-groups: "Sudo!" is not a group name/],
    [{ 'services-enable': 'sshd --now' }, /^services-enable: "--now" is not a systemd unit name/],
    [{ 'services-disable': 'a;b' }, /^services-disable: "a;b" is not a systemd unit name/],
    [{ locale: 'en US' }, /^locale: "en US" is not accepted/],
    [{ timezone: '../../etc/passwd' }, /^timezone: "..\/..\/etc\/passwd" is not accepted; use a zone name/],
    [{ hostname: 'my_host' }, /^hostname: "my_host" is not accepted/],
    [{ keymap: '-us' }, /^keymap: "-us" is not accepted/],
    [{ files: '/nonexistent/overlay' }, /^files: "\/nonexistent\/overlay" is not a directory$/],
    [
      { scripts: 'after-boot: x.sh' },
      /^scripts: "after-boot" is not a hook point; use one of after-bootstrap, after-configure, before-seal$/
    ],
    [
      { scripts: 'after-configure: /nonexistent.sh' },
      /^scripts: after-configure: "\/nonexistent.sh" is not a file$/
    ],
    [{ scripts: '- just a list' }, /^scripts: use lines "<point>: <path>"/]
  ])('%j is rejected', (inputs, message) => {
    expect(problemsOf(inputs)).toEqual([expect.stringMatching(message)])
  })
})
