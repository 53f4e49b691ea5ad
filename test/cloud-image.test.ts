// The cloud image, built by the action from the stand-in repository (Debian's packages under Arch
// names, so every command the configure stages run really runs): what each step must leave in the
// image, read back from the qcow2, then what the guest reported when the action's own boot test booted
// it with SeaBIOS and with OVMF. The build and its boots are the run's shared ones (test/boot.ts):
// test/boot-gate.test.ts asserts the gate's side of the same run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, readlinkSync, statSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import {
  REPORT_MARKER,
  REPORTED_UNITS,
  reportedValues,
  SHARED_IMAGE_MINUTES,
  sharedCloudImage
} from './boot.js'
import { leaksUnder, withImageRoot, type ActionRun } from './helpers.js'
import { startHarness, stopHarness } from './openstack/harness.js'
import { cyclonedxErrors, spdxSchemaErrors } from './support/sbom-validators.js'

describe('cloud image from the stand-in repository', () => {
  let dir: string
  let name: string
  let run: ActionRun
  let rootUuid = ''

  beforeAll(async () => {
    // The shared build publishes to Glance: whoever builds it first needs the harness.
    const h = await startHarness()
    ;({ dir, name, run } = await sharedCloudImage(h))
  }, SHARED_IMAGE_MINUTES * 60_000)

  afterAll(async () => {
    await stopHarness()
  }, 120_000)

  it('builds, and every configure stage ran and passed the lint', () => {
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    for (const stage of [
      'fstab',
      'system',
      'network',
      'ssh',
      'cloud-init',
      'initramfs',
      'bootloader',
      'services',
      'seal'
    ]) {
      expect(run.summary).toMatch(new RegExp(`<td>${stage}</td><td>[0-9.]+ s</td><td>ok</td>`))
    }
    expect(run.output).toContain(
      'lint: sshd and cloud-init enabled, initramfs without autodetect, fstab by UUID, GRUB for each boot mode'
    )
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
  })

  it('holds what each step must produce', async () => {
    // Where the action writes it, not the output: a gate that failed (the image is kept, the outputs
    // are not written) must not hide what the image holds.
    await withImageRoot(path.join(dir, 'out', `${name}.qcow2`), (root, partitions) => {
      const read = (file: string) => readFileSync(path.join(root, file), 'utf8')
      const link = (file: string) => readlinkSync(path.join(root, file))
      // A unit is enabled when a .wants link for it (under the target its [Install] names) resolves to
      // a unit file inside the image.
      const enabled = (unit: string) => {
        const links = execFileSync(
          'find',
          [path.join(root, 'etc/systemd/system'), '-path', `*.wants/${unit}.service`],
          {
            encoding: 'utf8'
          }
        )
          .split('\n')
          .filter(Boolean)
        return links.some(link => {
          const inImage = path.join(root, readlinkSync(link).replace(/^\/(usr\/)?lib\//, 'usr/lib/'))
          return statSync(inImage).isFile()
        })
      }
      rootUuid = execFileSync('blkid', ['-p', '-s', 'UUID', '-o', 'value', partitions.root], {
        encoding: 'utf8'
      }).trim()

      expect(read('etc/fstab')).toMatch(
        new RegExp(`^UUID=${rootUuid}\\s+/\\s+ext4\\s+rw,relatime\\s+0 1$`, 'm')
      )
      expect(read('etc/hostname')).toBe('archlinux\n')
      expect(read('etc/locale.conf')).toBe('LANG=C.UTF-8\n')
      expect(read('etc/vconsole.conf')).toBe('KEYMAP=us\n')
      expect(link('etc/localtime')).toMatch(/\/usr\/share\/zoneinfo\/UTC$/)

      expect(read('etc/systemd/network/80-arch-image-dhcp.network')).toMatch(
        /\[Match\]\nName=en\* eth\*\n\n\[Network\]\nDHCP=yes\n/
      )
      expect(link('etc/resolv.conf')).toBe('/run/systemd/resolve/stub-resolv.conf')
      expect(read('etc/ssh/sshd_config.d/60-arch-image.conf')).toMatch(
        /^PermitRootLogin no\nPasswordAuthentication no\n/m
      )
      expect(read('etc/ssh/sshd_config')).toMatch(/^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf$/m)
      expect(
        execFileSync('find', [path.join(root, 'etc/ssh'), '-name', 'ssh_host_*'], { encoding: 'utf8' })
      ).toBe('')

      const cloud = YAML.parse(read('etc/cloud/cloud.cfg.d/90-arch-image.cfg'))
      expect(cloud.datasource_list).toEqual(['ConfigDrive', 'OpenStack', 'NoCloud', 'Ec2'])
      expect(cloud.system_info.default_user).toMatchObject({
        name: 'arch',
        sudo: ['ALL=(ALL) NOPASSWD:ALL'],
        lock_passwd: true
      })
      expect(cloud.growpart).toEqual({ mode: 'auto', devices: ['/'] })
      expect(cloud.locale).toBe('false')
      // resize2fs for cloud-init's resizefs, fsck.ext4 for boot: Arch's base has no e2fsprogs.
      expect(statSync(path.join(root, 'usr/bin/resize2fs')).isFile()).toBe(true)

      expect(read('etc/mkinitcpio.d/linux.preset')).toContain('default_options="-S autodetect"\n')
      expect(statSync(path.join(root, 'boot/initramfs-linux.img')).size).toBeGreaterThan(1_000_000)
      expect(() => statSync(path.join(root, 'boot/initramfs-linux-fallback.img'))).toThrow()
      // The stand-in mkinitcpio records what it was asked (Arch's has no such log; see test/README.md).
      expect(read('boot/.mkinitcpio-standin.log')).toMatch(/skipped=autodetect/)

      expect(read('etc/default/grub')).toContain(
        'GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200 net.ifnames=0"\n'
      )
      const grubCfg = read('boot/grub/grub.cfg')
      expect(grubCfg).toMatch(
        new RegExp(
          `^\\s*linux\\s+/boot/vmlinuz-linux root=UUID=${rootUuid} .*console=ttyS0,115200 net.ifnames=0`,
          'm'
        )
      )
      expect(grubCfg).toMatch(/^\s*initrd\s+\/boot\/initramfs-linux\.img$/m)
      expect(grubCfg).not.toMatch(/root=\/dev\/loop/)
      expect(statSync(path.join(root, 'boot/grub/i386-pc/core.img')).size).toBeGreaterThan(0)
      // stderr: mtools' "Could not get geometry" on a partition node, harmless.
      const esp = execFileSync('mdir', ['-b', '-i', partitions.esp, '::/EFI/BOOT'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }
      })
      expect(esp).toMatch(/BOOTX64\.EFI/)

      for (const unit of REPORTED_UNITS) {
        expect({ unit, enabled: enabled(unit) }).toEqual({ unit, enabled: true })
      }
      expect(
        readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/pacman-init.service'))
      ).toBe('/etc/systemd/system/pacman-init.service')
      expect(read('etc/systemd/system/pacman-init.service')).toContain(
        'ConditionPathExists=!/etc/pacman.d/gnupg/.pacman-init-done\n'
      )
      // Sealed: pacman-init makes the keyring at first boot; systemd makes the machine-id.
      expect(() => statSync(path.join(root, 'etc/pacman.d/gnupg'))).toThrow()
      expect(statSync(path.join(root, 'etc/machine-id')).size).toBe(0)
    })
  }, 120_000)

  it('has both SBOMs next to it: valid, every package of the manifest, the qcow2 as the described artifact', async () => {
    const out = path.join(dir, 'out')
    const spdxPath = path.join(out, `${name}.spdx.json`)
    const cyclonedxPath = path.join(out, `${name}.cdx.json`)
    expect([run.outputs['sbom-spdx-path'], run.outputs['sbom-cyclonedx-path']]).toEqual([
      spdxPath,
      cyclonedxPath
    ])
    const spdxText = readFileSync(spdxPath, 'utf8')
    const cyclonedxText = readFileSync(cyclonedxPath, 'utf8')
    expect(spdxSchemaErrors(spdxText)).toEqual([])
    expect(await cyclonedxErrors(cyclonedxText)).toBeNull()

    const spdx = JSON.parse(spdxText) as {
      packages: {
        name: string
        versionInfo?: string
        checksums?: { algorithm: string; checksumValue: string }[]
      }[]
    }
    const cyclonedx = JSON.parse(cyclonedxText) as {
      metadata: { component: { hashes: { alg: string; content: string }[] } }
      components: { name: string; version: string }[]
    }
    const manifest = readFileSync(path.join(out, `${name}.manifest`), 'utf8')
    const lines = manifest.split('\n').filter(Boolean)
    expect(lines.length).toBeGreaterThan(10)
    expect(cyclonedx.components.map(c => `${c.name} ${c.version}`)).toEqual(lines)
    // The SPDX document: the image first, then one package per manifest line.
    expect(spdx.packages.slice(1).map(p => `${p.name} ${p.versionInfo}`)).toEqual(lines)
    expect(String(cyclonedx.components.length)).toBe(run.outputs['package-count'])

    const image = readFileSync(path.join(out, `${name}.qcow2`))
    const sha256 = createHash('sha256').update(image).digest('hex')
    const sha512 = createHash('sha512').update(image).digest('hex')
    expect(spdx.packages[0]?.checksums).toEqual([
      { algorithm: 'SHA256', checksumValue: sha256 },
      { algorithm: 'SHA512', checksumValue: sha512 }
    ])
    expect(cyclonedx.metadata.component.hashes).toEqual([
      { alg: 'SHA-256', content: sha256 },
      { alg: 'SHA-512', content: sha512 }
    ])
  }, 120_000)

  describe('booted by the gate under QEMU (TCG) with SeaBIOS and with OVMF', () => {
    const firmwares = ['bios', 'uefi'] as const
    const reports: Record<string, Map<string, string>> = {}

    beforeAll(() => {
      for (const firmware of firmwares) {
        reports[firmware] = reportedValues(run.output, `${REPORT_MARKER}-${firmware}`)
        process.stderr.write(
          `${firmware} boot: ${reports[firmware].get('startup')}; slowest units: ${reports[firmware].get('slowest')}\n`
        )
      }
    })

    describe.each(firmwares)('with %s firmware', firmware => {
      const value = (key: string) => reports[firmware]?.get(key)

      it('passed the gate and reached multi-user.target with nothing failed', () => {
        // Without a report, the gate's own verdict and the end of the log say where it stopped.
        expect({
          gate: run.outputs['boot-test'],
          done: value('done'),
          tail: value('done') === undefined ? run.output.slice(-4000) : ''
        }).toEqual({ gate: 'passed', done: '', tail: '' })
        expect(value('multi-user')).toBe('active')
        expect(value('system')).toBe('running')
        // On failure, the journal of each failed unit is in the report.
        expect({
          failed: value('failed'),
          journals: [...(reports[firmware] ?? [])].filter(([key]) => key.startsWith('journal'))
        }).toEqual({ failed: '', journals: [] })
      })

      it('mounted root by UUID from the kernel command line, and grew it to the disk', () => {
        expect(value('cmdline')).toContain(`root=UUID=${rootUuid}`)
        expect(value('cmdline')).toContain('console=ttyS0,115200 net.ifnames=0')
        expect(value('root')).toBe('/dev/vda3')
        // The gate's overlay is the image's 2 GiB plus 2 GiB: cloud-init's growpart and resize2fs ran.
        expect(Number(value('root-bytes'))).toBeGreaterThan(3.5 * 2 ** 30)
      })

      it('ran the enabled units, the first-boot pacman keyring unit included, and kept the locale', () => {
        for (const unit of REPORTED_UNITS) {
          expect({ unit, state: value(`unit ${unit}`) }).toEqual({ unit, state: 'success/active' })
        }
        expect(value('keyring')).toBe('populated')
        expect(value('locale')).toBe('LANG=C.UTF-8')
      })

      it('made a fresh machine-id', () => {
        expect(value('machine-id')).toMatch(/^[0-9a-f]{32}$/)
      })
    })

    it('made a different machine-id on each boot', () => {
      const ids = firmwares.map(firmware => reports[firmware]?.get('machine-id'))
      expect(ids[0]).toMatch(/^[0-9a-f]{32}$/)
      expect(ids[0]).not.toBe(ids[1])
    })
  })
})
