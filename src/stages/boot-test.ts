// boot-test: the gate before publishing. Each firmware boots a throw-away overlay of the finished
// image in QEMU with a seed of our own, and the guest is checked over SSH as the default user. A
// failed check fails the stage (so nothing later publishes), names the check, and leaves the whole
// serial console next to the image.
import { randomBytes } from 'node:crypto'
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { compareBoots, judge, parseAnswers, PROBE, userData, type Answers } from '../boot/checks.js'
import {
  chooseAccel,
  createOverlay,
  findOvmf,
  freePort,
  kvmNotice,
  makeSeed,
  monitorCommand,
  qemuArgv,
  sshBanner,
  type MachineFiles
} from '../boot/qemu.js'
import type { Firmware } from '../config/config.js'
import type { Accel, BootReport, BootTestReport, CheckResult, Context } from '../pipeline/context.js'
import type { RunResult } from '../pipeline/exec.js'
import type { Stage } from '../pipeline/runner.js'

const GiB = 1024 ** 3
const POLL_MS = 3000
// How long an answering sshd may refuse the seeded key: cloud-init installs it before sshd starts.
const DENIED_GRACE_MS = 60_000
// How long sshd may stay silent after cloud-init reported the boot finished on the console.
const FINISHED_GRACE_MS = 30_000
// Under KVM a kernel prints within seconds; silence means a /dev/kvm whose guests cannot run.
const KVM_SILENCE_MS = 60_000
const CONSOLE_TAIL_LINES = 40

class KvmUnusable extends Error {}

/** The console as text: without terminal control sequences (GRUB's and the firmware's screen
 * drawing, systemd's colours) or carriage returns. */
export function consoleText(raw: string): string {
  return (
    raw
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]/g, '') // CSI, e.g. ESC[0;32m, ESC[=3h
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b[()][0-9A-Za-z]|\x1b[\x40-\x5f]|\x1b[0-9=>]/g, '') // charsets, other escapes
      .replace(/\r/g, '')
  )
}

export function tail(text: string, lines = CONSOLE_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

function readConsole(file: string): string {
  try {
    return consoleText(readFileSync(file, 'utf8'))
  } catch {
    return ''
  }
}

export function sshArgv(key: string, port: number, user: string, command: string): string[] {
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    '-i',
    key,
    '-p',
    String(port),
    `${user}@127.0.0.1`,
    command
  ]
}

interface Machine {
  files: MachineFiles
  port: number
  started: number
  exited?: RunResult
  done: Promise<RunResult>
}

async function startMachine(
  ctx: Context,
  firmware: Firmware,
  accel: Accel,
  files: MachineFiles,
  limitSeconds: number
): Promise<Machine> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const argv = qemuArgv({ firmware, accel, ovmf: findOvmf(), sshPort: port, files, limitSeconds })
    // Not awaited: QEMU runs while we wait for SSH. The exec seam puts it on the teardown stack.
    const done = ctx.exec.run(argv, { allowFailure: true, quiet: true })
    const machine: Machine = { files, port, started: performance.now(), done }
    void done.then(result => (machine.exited = result))
    await sleep(1000)
    // Another process took the port between our probe and QEMU's bind: try another.
    if (machine.exited && /hostfwd|host forwarding/i.test(machine.exited.stderr) && attempt < 3) continue
    return machine
  }
}

async function stopMachine(ctx: Context, machine: Machine): Promise<void> {
  if (!machine.exited) await monitorCommand(machine.files.monitor, 'quit')
  const stopped = await Promise.race([machine.done.then(() => true), sleep(15_000).then(() => false)])
  if (stopped) return
  const pid = readFileSync(machine.files.pidFile, 'utf8').trim()
  await ctx.exec.run(['kill', '-KILL', pid], { allowFailure: true, quiet: true })
  await machine.done
}

type Login = { ok: true; seconds: number } | { ok: false; check: CheckResult }

/** Retry SSH until a login works, the guest shows it will never work, or the time is up. */
async function waitForLogin(
  ctx: Context,
  machine: Machine,
  accel: Accel,
  key: string,
  deadline: number
): Promise<Login> {
  const user = ctx.config.configure.user
  let deniedSince: number | undefined
  let finishedSince: number | undefined
  for (;;) {
    const now = performance.now()
    const console = readConsole(machine.files.console)
    if (machine.exited) {
      const stderr = tail(machine.exited.stderr, 10)
      if (accel === 'kvm' && /kvm/i.test(stderr)) throw new KvmUnusable(stderr)
      const detail = `QEMU exited with code ${machine.exited.code} before SSH answered${stderr ? `: ${stderr}` : ''}`
      return { ok: false, check: { name: 'qemu', ok: false, detail } }
    }
    if (
      accel === 'kvm' &&
      now - machine.started > KVM_SILENCE_MS &&
      !/Linux version|login:|\[\s*\d+\.\d+\]/.test(console)
    )
      throw new KvmUnusable('the guest printed nothing on the serial console in 60 s')
    if (now > deadline) {
      const detail =
        deniedSince !== undefined
          ? `sshd kept refusing the seeded key for ${user} until the timeout`
          : `sshd did not answer within ${ctx.config.bootTest.timeoutSeconds} s`
      return {
        ok: false,
        check: { name: deniedSince !== undefined ? 'ssh-login' : 'ssh', ok: false, detail }
      }
    }
    if (await sshBanner(machine.port)) {
      const login = await ctx.exec.run(sshArgv(key, machine.port, user, 'true'), {
        allowFailure: true,
        quiet: true
      })
      if (login.code === 0) return { ok: true, seconds: (performance.now() - machine.started) / 1000 }
      if (/Permission denied/i.test(login.stderr)) {
        deniedSince ??= now
        if (now - deniedSince > DENIED_GRACE_MS) {
          const detail = `sshd answers but refused the seeded key for ${user} for ${DENIED_GRACE_MS / 1000} s (did cloud-init run, create the user and install the key?)`
          return { ok: false, check: { name: 'ssh-login', ok: false, detail } }
        }
      }
    } else if (/Cloud-init v\. \S+ finished/.test(console)) {
      finishedSince ??= now
      if (now - finishedSince > FINISHED_GRACE_MS) {
        const detail = `cloud-init reported the boot finished on the serial console, but sshd does not answer on port 22`
        return { ok: false, check: { name: 'ssh', ok: false, detail } }
      }
    }
    await sleep(POLL_MS)
  }
}

/**
 * Runs a shell in the guest as the default user. ssh exits 255 when it could not run the command at
 * all: cloud-init's config stage restarts sshd (seen right after the first login), so reconnect.
 */
async function inGuest(
  ctx: Context,
  guest: { machine: Machine; key: string; deadline: number },
  command: string,
  input: string
): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    const seconds = Math.max(10, Math.round((guest.deadline - performance.now()) / 1000))
    const argv = sshArgv(guest.key, guest.machine.port, ctx.config.configure.user, command)
    const result = await ctx.exec.run(['timeout', String(seconds), ...argv], { allowFailure: true, input })
    const unreached = result.code === 255 && result.stdout === ''
    if (!unreached || attempt >= 10 || performance.now() > guest.deadline) return result
    await sleep(POLL_MS)
  }
}

interface BootOutcome {
  report: BootReport
  answers?: Answers
}

async function bootOnce(ctx: Context, firmware: Firmware, accel: Accel): Promise<BootOutcome> {
  const { config, exec, teardown } = ctx
  const image = ctx.image
  if (!image) throw new Error('BUG: boot test without an image')
  const dir = mkdtempSync(path.join(ctx.workDir, `boot-${firmware}-`))
  const dirId = teardown.push({ kind: 'path', path: dir })
  const files: MachineFiles = {
    overlay: path.join(dir, 'overlay.qcow2'),
    seed: path.join(dir, 'seed.img'),
    console: path.join(dir, 'console.log'),
    monitor: path.join(dir, 'monitor.sock'),
    pidFile: path.join(dir, 'qemu.pid')
  }
  const key = path.join(dir, 'key')
  const marker = randomBytes(8).toString('hex')
  const hostname = `arch-image-test-${marker.slice(0, 6)}`
  const diskBytes = image.virtualSize + 2 * GiB
  let machine: Machine | undefined
  const report: BootReport = { firmware, accel, checks: [], consoleTail: '' }
  const begun = performance.now()
  try {
    await exec.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'arch-image-boot-test', '-f', key])
    await makeSeed(exec, dir, {
      instanceId: `arch-image-${marker}`,
      hostname,
      userData: userData(readFileSync(`${key}.pub`, 'utf8'), marker)
    })
    await createOverlay(exec, image, files.overlay, diskBytes)

    const timeout = config.bootTest.timeoutSeconds
    ctx.log.info(
      `booting ${path.basename(image.path)} with ${firmware} firmware (${accel}), timeout ${timeout} s`
    )
    machine = await startMachine(ctx, firmware, accel, files, timeout + 60)
    ctx.log.info(`QEMU started; SSH forwarded from 127.0.0.1:${machine.port}`)
    const deadline = machine.started + timeout * 1000
    const login = await waitForLogin(ctx, machine, accel, key, deadline)
    if (!login.ok) {
      report.checks.push(login.check)
      return { report }
    }
    report.seconds = login.seconds
    report.checks.push({
      name: 'ssh-login',
      ok: true,
      detail: `${config.configure.user} logged in after ${login.seconds.toFixed(0)} s`
    })
    ctx.log.info(`SSH login as ${config.configure.user} after ${login.seconds.toFixed(1)} s`)

    const guest = { machine, key, deadline }
    const probe = await inGuest(ctx, guest, 'sh -s', PROBE)
    const answers = parseAnswers(probe.stdout)
    report.checks.push(
      ...judge(answers, {
        firmware,
        user: config.configure.user,
        hostname,
        marker,
        diskBytes,
        imageBytes: image.virtualSize
      })
    )
    if (config.bootTest.script) {
      const script = await inGuest(ctx, guest, 'sh -e -s', config.bootTest.script)
      const output = tail(`${script.stdout}${script.stderr}`, 10)
      report.checks.push({
        name: 'script',
        ok: script.code === 0,
        detail:
          script.code === 0
            ? 'boot-test-script exited 0'
            : `boot-test-script exited ${script.code}${output ? `:\n${output}` : ''}`
      })
    }
    return { report, answers }
  } finally {
    if (machine) await stopMachine(ctx, machine)
    const console = readConsole(files.console)
    report.consoleTail = tail(console)
    if (report.checks.some(check => !check.ok)) report.consoleLog = keepConsole(ctx, firmware, console)
    await teardown.release(dirId)
    ctx.log.info(`boot test ${firmware}: ${((performance.now() - begun) / 1000).toFixed(1)} s in all`)
  }
}

/** The whole serial console of a failed boot, next to the image and owned like it. */
function keepConsole(ctx: Context, firmware: Firmware, text: string): string | undefined {
  if (!ctx.image) return undefined
  const file = path.join(path.dirname(ctx.image.path), `${ctx.imageName}.boot-test-${firmware}.log`)
  writeFileSync(file, text)
  if (ctx.owner) chownSync(file, ctx.owner.uid, ctx.owner.gid)
  return file
}

async function boot(ctx: Context, firmware: Firmware, accel: Accel): Promise<BootOutcome> {
  try {
    return await bootOnce(ctx, firmware, accel)
  } catch (error) {
    if (!(error instanceof KvmUnusable)) throw error
    ctx.log.warning(`KVM is not usable here (${error.message}); booting again with TCG (slow)`)
    return bootOnce(ctx, firmware, 'tcg')
  }
}

export class BootTestError extends Error {
  constructor(
    readonly firmware: string,
    readonly failed: CheckResult[]
  ) {
    super(
      `boot test (${firmware}) failed: ${failed.map(check => `${check.name}: ${check.detail}`).join('; ')}`
    )
    this.name = 'BootTestError'
  }
}

export const bootTestStage: Stage = {
  name: 'boot-test',
  enabled: ctx => ctx.config.mode === 'build' && ctx.config.configure.enabled && ctx.config.bootTest.enabled,
  async run(ctx) {
    const report: BootTestReport = { result: 'failed', boots: [], across: [] }
    ctx.bootTest = report
    const { firmware } = ctx.config.bootTest
    if (firmware.includes('uefi') && !findOvmf()) {
      throw new Error('boot test: no OVMF firmware for the UEFI boot (install the ovmf package)')
    }
    let accel = chooseAccel()
    const notice = kvmNotice(accel)
    if (notice) ctx.log.warning(notice)
    const booted: { firmware: Firmware; answers: Answers }[] = []
    for (const fw of firmware) {
      const outcome = await boot(ctx, fw, accel)
      accel = outcome.report.accel
      report.boots.push(outcome.report)
      const failed = outcome.report.checks.filter(check => !check.ok)
      if (failed.length > 0) throw new BootTestError(fw, failed)
      if (outcome.answers) booted.push({ firmware: fw, answers: outcome.answers })
    }
    report.across = compareBoots(booted)
    const failed = report.across.filter(check => !check.ok)
    if (failed.length > 0) throw new BootTestError(firmware.join(' and '), failed)
    report.result = 'passed'
    for (const bootReport of report.boots) {
      ctx.log.info(`boot test ${bootReport.firmware}: passed, SSH after ${bootReport.seconds?.toFixed(1)} s`)
    }
  }
}
