// The boot-test gate through the bundled action: a stand-in image (Debian's packages under Arch
// names, so it really boots) passes under SeaBIOS and OVMF; images broken on purpose by a hook
// script fail the gate with the check that caught them, keep the serial console next to the image,
// and leave no QEMU, overlay or forwarded port behind. Every build publishes to a real Keystone +
// Glance on 127.0.0.1: the working image arrives there, the broken ones never do. The working image
// is the run's shared cloud image (test/boot.ts), whose boots test/cloud-image.test.ts reads too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  adminEnv,
  memberEnv,
  openstackCli,
  startHarness,
  stopHarness,
  type HarnessEnv
} from './openstack/harness.js'
import { SHARED_IMAGE_MINUTES, sharedCloudImage } from './boot.js'
import {
  fixtureMirror,
  leaksUnder,
  runAction,
  runPost,
  scratchDir,
  standinRepo,
  type ActionRun
} from './helpers.js'

const MINUTES = 60_000

/** QEMU processes whose command line names a path under `dir` (ours, not another test's). */
function qemuUnder(dir: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
      if (cmdline.includes('qemu-system') && cmdline.includes(dir)) found.push(`${pid} ${cmdline}`)
    } catch {
      // gone
    }
  }
  return found
}

/** What a boot test may leave: nothing but the image's own files (and a console log on failure). */
function leftovers(dir: string): { qemu: string[]; loops: string[]; mounts: string[]; temp: string[] } {
  const temp = path.join(dir, 'runner_temp')
  const entries = existsSync(temp) ? readdirSync(temp).filter(name => name !== 'arch-image-pkg') : []
  return { qemu: qemuUnder(dir), ...leaksUnder(dir), temp: entries }
}

/**
 * A hook that keeps units from starting at boot while they stay enabled. `systemctl disable` would not
 * get this far: the seal stage's lint refuses an image whose sshd or cloud-init units are not enabled
 * (seen with exactly that hook), so only a boot can show this breakage.
 */
function offAtBoot(units: string[]): string {
  return units
    .map(unit => {
      const dir = `/etc/systemd/system/${unit}.service.d`
      return `mkdir -p ${dir}\nprintf '[Unit]\\nConditionPathExists=/nonexistent\\n' > ${dir}/10-off.conf`
    })
    .join('\n')
}

function portBound(port: number): boolean {
  const listening = execFileSync('ss', ['-Htln', `sport = :${port}`], { encoding: 'utf8' })
  return listening.trim() !== ''
}

const BROKEN = [
  {
    broken: 'an sshd that never starts',
    body: offAtBoot(['sshd']),
    check: 'ssh',
    detail: 'cloud-init reported the boot finished on the serial console, but sshd does not answer on port 22'
  },
  {
    broken: 'cloud-init units that never start',
    body: offAtBoot([
      'cloud-init-main',
      'cloud-init-local',
      'cloud-init-network',
      'cloud-config',
      'cloud-final'
    ]),
    check: 'ssh-login',
    detail: 'sshd answers but refused the seeded key for arch'
  }
]

describe('boot-test gate', () => {
  let repo: string
  let h: HarnessEnv
  const dirs: string[] = []
  const suffix = `${process.pid}-${Date.now().toString(36)}`

  /** Glance images of that name the member's project can see. */
  async function glanceImages(name: string): Promise<{ Name: string; Status: string }[]> {
    const listing = await openstackCli(
      ['image', 'list', '--private', '--name', name, '-f', 'json'],
      memberEnv(h)
    )
    return JSON.parse(listing) as { Name: string; Status: string }[]
  }

  /** A hook script run at after-configure, by absolute path. */
  function hook(body: string): string {
    const scratch = scratchDir('arch-image-hook-')
    dirs.push(scratch)
    const file = path.join(scratch, 'break.sh')
    writeFileSync(file, `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 })
    return `after-configure: ${file}`
  }

  function brokenInputs(body: string): Record<string, string> {
    return { scripts: hook(body), 'boot-test-firmware': 'bios', 'boot-test-timeout': '900' }
  }

  async function build(
    name: string,
    inputs: Record<string, string>
  ): Promise<{ dir: string; run: ActionRun }> {
    const dir = scratchDir()
    dirs.push(dir)
    const run = await runAction({
      dir,
      // This machine's /dev/kvm accepts guests that then die: TCG, as on any host without KVM.
      env: { QEMU_ACCEL: 'tcg', ...memberEnv(h) },
      inputs: {
        'image-name': name,
        glance: 'true',
        mirror: fixtureMirror(repo),
        'signature-level': 'Never',
        'pacman-from': 'host',
        cache: 'false',
        'package-cache-dir': path.join(dir, 'pkg-cache'),
        'output-dir': path.join(dir, 'out'),
        // pacman-init (1-2 min under TCG) holds sshd back (Before=sshd.service): the working image
        // runs it, these need not.
        'services-disable': 'pacman-init',
        ...inputs
      }
    })
    return { dir, run }
  }

  // The broken images build and boot at once, and with the shared working image when this file is the
  // first to ask for it: each run spends most of its time in one TCG vCPU thread or one pacstrap, so
  // together they take far less than one after another.
  const builds = new Map<string, Promise<{ dir: string; run: ActionRun }>>()
  function started(
    name: string,
    inputs: () => Record<string, string>
  ): Promise<{ dir: string; run: ActionRun }> {
    let pending = builds.get(name)
    if (!pending) {
      pending = build(name, inputs())
      builds.set(name, pending)
    }
    return pending
  }

  let working: ReturnType<typeof sharedCloudImage>

  beforeAll(async () => {
    repo = standinRepo()
    h = await startHarness()
    working = sharedCloudImage(h)
    // Awaited in its own beforeAll; a failure here would be an unhandled rejection meanwhile.
    working.catch(() => undefined)
    for (const { check, body } of BROKEN) void started(`gate-${check}-${suffix}`, () => brokenInputs(body))
  }, 20 * MINUTES)

  afterAll(async () => {
    try {
      const all = JSON.parse(await openstackCli(['image', 'list', '-f', 'json'], adminEnv(h))) as {
        ID: string
        Name: string
      }[]
      for (const image of all.filter(candidate => candidate.Name.includes(suffix))) {
        await openstackCli(['image', 'delete', image.ID], adminEnv(h)).catch(() => '')
      }
    } finally {
      await stopHarness()
      for (const dir of dirs) execFileSync('rm', ['-rf', dir])
    }
  }, 5 * MINUTES)

  describe('a working image', () => {
    let name: string
    let dir: string
    let run: ActionRun

    beforeAll(async () => {
      ;({ dir, name, run } = await working)
    }, SHARED_IMAGE_MINUTES * MINUTES)

    it('passes under BIOS and UEFI, timed per firmware', () => {
      expect(run.output).not.toContain('::error::')
      expect(run.code).toBe(0)
      expect(run.outputs['boot-test']).toBe('passed')
      const seconds = JSON.parse(run.outputs['boot-seconds'] as string) as Record<string, number>
      expect(Object.keys(seconds)).toEqual(['bios', 'uefi'])
      for (const value of Object.values(seconds)) expect(value).toBeGreaterThan(5)
      // Printed for the README's timing table.
      process.stdout.write(`boot-test seconds to SSH: ${JSON.stringify(seconds)}\n`)
      expect(run.summary).toMatch(/<td>boot-test<\/td><td>[0-9.]+ s<\/td><td>ok<\/td>/)
      // A heartbeat every 30 s while waiting for the guest (both boots take more than that under TCG).
      for (const firmware of ['bios', 'uefi']) {
        expect(run.output).toMatch(
          new RegExp(`^boot test ${firmware} \\(tcg\\): waiting for SSH for \\d+ s; console: .+$`, 'm')
        )
      }
    })

    it('ran every check on both boots and compared them', () => {
      expect(run.summary).toContain('<h3>Boot test: passed</h3>')
      for (const firmware of ['bios', 'uefi']) {
        for (const check of [
          'ssh-login',
          'firmware',
          'sudo',
          'cloud-init',
          'hostname',
          'runcmd',
          'root-grown',
          'machine-id',
          'host-keys',
          'failed-units',
          'script'
        ]) {
          expect(run.summary).toContain(`<tr><td>${firmware}</td><td>${check}</td><td>ok</td>`)
        }
      }
      expect(run.summary).toContain(
        '<td>both</td><td>host-keys</td><td>ok</td><td>the bios and uefi boots made different SSH host keys'
      )
      expect(run.summary).toContain('<td>both</td><td>machine-id</td><td>ok</td>')
      expect(run.summary).not.toContain('Serial console of')
    })

    it('left the image unchanged and nothing else behind', () => {
      const image = run.outputs['image-path'] as string
      const sha256 = execFileSync('sha256sum', [image], { encoding: 'utf8' }).split(' ')[0]
      expect(sha256).toBe(run.outputs.sha256)
      expect(readdirSync(path.dirname(image)).sort()).toEqual([
        'SHA256SUMS',
        `${name}.cdx.json`,
        `${name}.manifest`,
        `${name}.qcow2`,
        `${name}.spdx.json`
      ])
      expect(leftovers(dir)).toEqual({ qemu: [], loops: [], mounts: [], temp: [] })
      const port = /SSH forwarded from 127\.0\.0\.1:(\d+)/.exec(run.output)?.[1]
      expect(port).toBeDefined()
      expect(portBound(Number(port))).toBe(false)
    })

    it('was published to Glance after the gate', async () => {
      expect(await glanceImages(name)).toEqual([expect.objectContaining({ Name: name, Status: 'active' })])
      expect(run.summary).toMatch(/<td>publish<\/td><td>[0-9.]+ s<\/td><td>ok<\/td>/)
    })
  })

  describe.each(BROKEN)('an image with $broken', ({ body, check, detail }) => {
    const name = `gate-${check}-${suffix}`
    let dir: string
    let run: ActionRun

    beforeAll(async () => {
      ;({ dir, run } = await started(name, () => brokenInputs(body)))
    }, 30 * MINUTES)

    it(`fails the gate at the ${check} check`, () => {
      expect(run.code).not.toBe(0)
      expect(run.output).toContain(
        `::error::stage "boot-test" failed: boot test (bios) failed: ${check}: ${detail}`
      )
      expect(run.outputs['boot-test']).toBe('failed')
      expect(run.outputs['boot-seconds']).toBe('{}')
    })

    it('shows the failed check and the serial console in the job summary, and keeps the whole console log', () => {
      expect(run.summary).toContain('<h3>Boot test: failed</h3>')
      expect(run.summary).toContain(`<tr><td>bios</td><td>${check}</td><td><b>failed</b></td><td>${detail}`)
      expect(run.summary).toMatch(/<td>boot-test<\/td><td>[0-9.]+ s<\/td><td>failed<\/td>/)
      const log = path.join(dir, 'out', `${name}.boot-test-bios.log`)
      expect(run.summary).toContain(`Serial console of the bios boot, last lines (the whole log: ${log})`)
      const console = readFileSync(log, 'utf8')
      // The kernel booted: what failed is the service the hook disabled.
      expect(console).toContain('Linux version')
      expect(console).not.toContain('\x1b[')
      // The summary's tail ends where the console ended.
      const last = console.trimEnd().split('\n').pop() as string
      expect(run.summary).toContain(
        last.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
      )
    })

    it('published nothing, ran nothing after the gate and left nothing behind', async () => {
      for (const stage of ['publish', 'release'])
        expect(run.summary).toMatch(new RegExp(`<td>${stage}</td><td>-?</td><td>not run</td>`))
      expect(await glanceImages(name)).toEqual([])
      const post = await runPost({ dir, inputs: {} })
      expect(post.code).toBe(0)
      expect(leftovers(dir)).toEqual({ qemu: [], loops: [], mounts: [], temp: [] })
    })
  })
})
