// boot-test: the gate before publishing. Each firmware boots a throw-away overlay of the finished
// image in QEMU with a seed of our own (the machine driver is src/boot/machine.ts), and the guest is
// checked over SSH as the default user. A failed check fails the stage (so nothing later publishes),
// names the check, and leaves the whole serial console next to the image.
import { randomBytes } from 'node:crypto'
import { chownSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  compareBoots,
  judge,
  parseAnswers,
  PROBE,
  userData,
  type Answers,
  type Expected
} from '../boot/checks.js'
import { tail } from '../boot/console.js'
import { KvmUnusable } from '../boot/login-wait.js'
import { inGuest, startMachine, stopMachine, waitForGuest, type Machine } from '../boot/machine.js'
import { acceleratorFor } from '../boot/kvm.js'
import { findOvmf } from '../boot/qemu.js'
import type { Firmware } from '../config/config.js'
import type { Accel, BootReport, BootTestReport, CheckResult, Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'

const GiB = 1024 ** 3

interface BootOutcome {
  report: BootReport
  answers?: Answers
}

/** Logs in, runs the probe and the user's script, and adds what they show to `report`. */
async function checkGuest(
  ctx: Context,
  machine: Machine,
  report: BootReport,
  expected: Expected
): Promise<BootOutcome> {
  const { config } = ctx
  const login = await waitForGuest(ctx, machine)
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

  const probe = await inGuest(ctx, machine, 'sh -s', PROBE)
  const answers = parseAnswers(probe.stdout)
  report.checks.push(...judge(answers, expected))
  if (config.bootTest.script) {
    const script = await inGuest(ctx, machine, 'sh -e -s', config.bootTest.script)
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
}

async function bootOnce(ctx: Context, firmware: Firmware, accel: Accel): Promise<BootOutcome> {
  const { config } = ctx
  const image = ctx.image
  if (!image) throw new Error('BUG: boot test without an image')
  const marker = randomBytes(8).toString('hex')
  const hostname = `arch-image-test-${marker.slice(0, 6)}`
  const diskBytes = image.virtualSize + 2 * GiB
  const report: BootReport = { firmware, accel, checks: [], consoleTail: '' }
  const expected: Expected = {
    firmware,
    user: config.configure.user,
    hostname,
    marker,
    diskBytes,
    imageBytes: image.virtualSize
  }
  const begun = performance.now()
  let machine: Machine | undefined
  try {
    machine = await startMachine(ctx, {
      firmware,
      accel,
      image,
      diskBytes,
      user: config.configure.user,
      timeoutSeconds: config.bootTest.timeoutSeconds,
      seed: { instanceId: `arch-image-${marker}`, hostname, userData: key => userData(key, marker) }
    })
    return await checkGuest(ctx, machine, report, expected)
  } finally {
    if (machine) {
      const console = await stopMachine(ctx, machine)
      report.consoleTail = tail(console)
      if (report.checks.some(check => !check.ok)) report.consoleLog = keepConsole(ctx, firmware, console)
    }
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
    let accel = await acceleratorFor(ctx.config.bootTest.kvm, ctx)
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
