// The files the configure stages write, and their command plans, read against the ArchWiki
// "OpenStack" list and Arch's official cloud image.
import { describe, expect, it } from '@jest/globals'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { efiEarlyConfig, grubDefaults, kernelCmdline, rootByUuid } from '../src/stages/bootloader.js'
import { packageList } from '../src/stages/bootstrap.js'
import { cloudInitConfig } from '../src/stages/cloudinit.js'
import { presetPath } from '../src/image/layout.js'
import { mkinitcpioPreset } from '../src/stages/initramfs.js'
import { fstabProblems } from '../src/image/lint.js'
import { networkdDhcp } from '../src/stages/network.js'
import { walk } from '../src/stages/overlay.js'
import { insideRoot } from '../src/image/rootfs.js'
import { pacmanInitUnit, unitsToEnable } from '../src/stages/services.js'
import { sshdDropIn } from '../src/stages/ssh.js'
import { localeGenLine } from '../src/stages/system.js'
import { tempDir } from '../test/support/temp-dir.js'
import { config, problemsOf } from '../test/support/config.js'

describe('sshd drop-in', () => {
  it('allows keys only and no root login', () => {
    expect(
      sshdDropIn()
        .split('\n')
        .filter(line => line && !line.startsWith('#'))
    ).toEqual(['PermitRootLogin no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no'])
  })
})

describe('systemd-networkd', () => {
  it('runs DHCP v4 and v6 on en* and eth*', () => {
    const text = networkdDhcp()
    expect(text).toMatch(/^\[Match\]\nName=en\* eth\*\n/m)
    expect(text).toMatch(/^\[Network\]\nDHCP=yes\n/m)
  })
})

describe('cloud-init drop-in', () => {
  it('lists the datasources and makes the default user with NOPASSWD sudo and no password', () => {
    const text = cloudInitConfig(config())
    expect(text.startsWith('#cloud-config\n')).toBe(true)
    const parsed = YAML.parse(text)
    expect(parsed.datasource_list).toEqual(['ConfigDrive', 'OpenStack', 'NoCloud', 'Ec2'])
    expect(parsed.system_info.default_user).toEqual({
      name: 'arch',
      lock_passwd: true,
      gecos: 'Arch Linux cloud user',
      groups: ['wheel'],
      sudo: ['ALL=(ALL) NOPASSWD:ALL'],
      shell: '/bin/bash'
    })
    expect(parsed.growpart).toEqual({ mode: 'auto', devices: ['/'] })
    expect(parsed.resize_rootfs).toBe(true)
    expect(parsed.ssh_pwauth).toBe(false)
    expect(parsed.disable_root).toBe(true)
    // A string cloud-init's schema accepts and its locale module reads as "skip": the build set the locale.
    expect(text).toContain('\nlocale: "false"\n')
  })

  it('takes the user, groups and datasources from the inputs', () => {
    const parsed = YAML.parse(
      cloudInitConfig(config({ user: 'ops', 'user-groups': 'wheel adm', datasources: 'OpenStack' }))
    )
    expect(parsed.system_info.default_user.name).toBe('ops')
    expect(parsed.system_info.default_user.groups).toEqual(['wheel', 'adm'])
    expect(parsed.datasource_list).toEqual(['OpenStack'])
  })
})

describe('GRUB', () => {
  it('puts the console on tty0 and ttyS0 and names NICs eth0 by default', () => {
    expect(kernelCmdline(config())).toBe('console=tty0 console=ttyS0,115200 net.ifnames=0')
    expect(
      kernelCmdline(config({ 'predictable-nic-names': 'true', 'kernel-cmdline': 'quiet mitigations=off' }))
    ).toBe('console=tty0 console=ttyS0,115200 quiet mitigations=off')
  })

  it('writes defaults with a serial terminal, no os-prober and the command line', () => {
    const text = grubDefaults(config())
    expect(text).toContain('GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200 net.ifnames=0"\n')
    expect(text).toContain('GRUB_TERMINAL_INPUT="console serial"\n')
    expect(text).toContain('GRUB_TERMINAL_OUTPUT="console serial"\n')
    expect(text).toContain('GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n')
    expect(text).toContain('GRUB_DISABLE_OS_PROBER=true\n')
  })

  it('makes BOOTX64.EFI find root by UUID and load its grub.cfg', () => {
    expect(efiEarlyConfig('1234-abcd')).toBe(
      'search --no-floppy --fs-uuid --set=root 1234-abcd\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n'
    )
  })

  it('replaces the build host loop partition in grub.cfg with the root UUID, and nothing else', () => {
    const cfg = [
      '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p3 rw  console=tty0',
      '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p30 rw',
      ''
    ].join('\n')
    expect(rootByUuid(cfg, '/dev/loop3p3', 'u-u')).toBe(
      [
        '\tlinux\t/boot/vmlinuz-linux root=UUID=u-u rw  console=tty0',
        '\tlinux\t/boot/vmlinuz-linux root=/dev/loop3p30 rw',
        ''
      ].join('\n')
    )
  })
})

describe('mkinitcpio preset', () => {
  it('builds one image per kernel without the autodetect hook', () => {
    expect(presetPath('linux-lts')).toBe('etc/mkinitcpio.d/linux-lts.preset')
    const text = mkinitcpioPreset('linux-lts')
    expect(text).toContain('ALL_kver="/boot/vmlinuz-linux-lts"\n')
    expect(text).toContain("PRESETS=('default')\n")
    expect(text).toContain('default_image="/boot/initramfs-linux-lts.img"\n')
    expect(text).toContain('default_options="-S autodetect"\n')
    expect(text).not.toContain('fallback_')
  })
})

describe('services', () => {
  it('writes a pacman-init unit that runs until the keyring is populated, after time sync and before sshd and cloud-final', () => {
    const text = pacmanInitUnit()
    // The marker, not the keyring's files: --init makes those, and a failed --populate must run again.
    expect(text).toContain('ConditionPathExists=!/etc/pacman.d/gnupg/.pacman-init-done\n')
    expect(text).toContain('After=time-sync.target\n')
    expect(text).toContain('Before=sshd.service cloud-final.service\n')
    expect(text).toMatch(
      /ExecStart=\/usr\/bin\/pacman-key --init\nExecStart=\/usr\/bin\/pacman-key --populate\nExecStart=\/usr\/bin\/touch \/etc\/pacman.d\/gnupg\/.pacman-init-done\n/
    )
    expect(text).toContain('WantedBy=multi-user.target\n')
  })

  it('enables the cloud image units plus the extras, less the disabled ones', () => {
    expect(unitsToEnable(config())).toEqual([
      'sshd',
      'systemd-networkd',
      'systemd-resolved',
      'systemd-timesyncd',
      'cloud-init-main',
      'cloud-init-local',
      'cloud-init-network',
      'cloud-config',
      'cloud-final',
      'pacman-init'
    ])
    const units = unitsToEnable(
      config({ 'services-enable': 'fstrim.timer sshd', 'services-disable': 'systemd-timesyncd.service' })
    )
    expect(units).toContain('fstrim.timer')
    expect(units).not.toContain('systemd-timesyncd')
    expect(units.filter(unit => unit === 'sshd')).toHaveLength(1)
  })
})

describe('package set', () => {
  it('swaps linux for the chosen kernel and adds the root filesystem tools when configuring, and leaves a bare set alone', () => {
    expect(packageList(config({ kernel: 'linux-lts', packages: 'htop' }))).toEqual([
      'base',
      'linux-lts',
      'grub',
      'openssh',
      'sudo',
      'btrfs-progs',
      'dosfstools',
      'efibootmgr',
      'qemu-guest-agent',
      'cloud-init',
      'cloud-guest-utils',
      'gptfdisk',
      'e2fsprogs',
      'htop'
    ])
    expect(packageList(config({ filesystem: 'btrfs' }))).not.toContain('e2fsprogs')
    expect(packageList(config({ configure: 'false', 'base-packages': 'base', packages: 'vim' }))).toEqual([
      'base',
      'vim'
    ])
  })
})

describe('locale', () => {
  it('needs locale-gen only for locales glibc does not carry built in', () => {
    expect(localeGenLine('C.UTF-8')).toBeUndefined()
    expect(localeGenLine('en_US.UTF-8')).toBe('en_US.UTF-8 UTF-8')
    expect(localeGenLine('de_DE.utf8')).toBe('de_DE.utf8 UTF-8')
  })
})

describe('fstab lint', () => {
  it('accepts our fstab and finds wrong, foreign or missing entries', () => {
    expect(fstabProblems('UUID=r / ext4 rw 0 1\nUUID=e /efi vfat rw 0 2\n', 'r', 'e')).toEqual([])
    expect(fstabProblems('UUID=x / ext4 rw 0 1\n', 'r', 'e')).toEqual([
      'fstab: UUID=x is not a filesystem of this image',
      "fstab: / is not mounted by the root filesystem's UUID (UUID=x)"
    ])
    expect(fstabProblems('# nothing\n/dev/vda1 /data ext4\n', 'r', 'e')).toEqual([
      'fstab: "/dev/vda1 /data ext4" does not have six fields',
      'fstab: no entry for /'
    ])
  })
})

describe('writing into the image', () => {
  it('refuses paths that a link would lead out of the root', () => {
    const dir = tempDir()
    const root = path.join(dir, 'root')
    mkdirSync(path.join(root, 'etc'), { recursive: true })
    symlinkSync('/etc', path.join(root, 'hostetc'))
    symlinkSync('/etc/passwd', path.join(root, 'etc/passwd'))
    symlinkSync('usr/bin', path.join(root, 'bin'))
    mkdirSync(path.join(root, 'usr/bin'), { recursive: true })
    expect(insideRoot(root, 'etc/fstab')).toBe(path.join(root, 'etc/fstab'))
    expect(insideRoot(root, 'bin/tool')).toBe(path.join(root, 'bin/tool'))
    expect(() => insideRoot(root, 'hostetc/shadow')).toThrow(/leads outside the image/)
    expect(() => insideRoot(root, 'etc/passwd')).toThrow(/is a symbolic link in the image/)
    expect(() => insideRoot(root, '../escape')).toThrow(/outside the image/)
  })

  it('walks an overlay parents first without following links', () => {
    const dir = tempDir()
    mkdirSync(path.join(dir, 'etc/motd.d'), { recursive: true })
    writeFileSync(path.join(dir, 'etc/motd.d/hello'), 'hi')
    symlinkSync('/etc', path.join(dir, 'link'))
    expect(walk(dir)).toEqual(['etc', 'etc/motd.d', 'etc/motd.d/hello', 'link'])
  })
})

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
