// Waiting for a booted guest's first SSH login: retry until the seeded key logs in, the guest shows it
// never will, or the time is up, with a heartbeat line in the log meanwhile. The machine, the clock
// and the log come in through a probe, so the decisions can be followed step by step.
import type { Firmware } from '../config/config.js'
import type { Accel, CheckResult } from '../pipeline/context.js'
import { lastConsoleLine, tail } from './console.js'

export const POLL_MS = 3000
/** How often the wait says what it waits for and what the console shows. */
export const HEARTBEAT_MS = 30_000
// How long an answering sshd may refuse the seeded key: cloud-init installs it before sshd starts.
const DENIED_GRACE_MS = 60_000
// How long sshd may stay silent after cloud-init reported the boot finished on the console.
const FINISHED_GRACE_MS = 30_000
// Under KVM a kernel prints within seconds; silence means a /dev/kvm whose guests cannot run.
const KVM_SILENCE_MS = 60_000

/** KVM was chosen but its guests cannot run here: the caller boots again with TCG. */
export class KvmUnusable extends Error {}

/** What the wait looks at and how it passes time. */
export interface LoginProbe {
  /** Milliseconds, on the clock `LoginWait.started` was read from. */
  now(): number
  sleep(ms: number): Promise<void>
  /** The serial console so far, as text. */
  console(): string
  /** QEMU's exit, once it has exited. */
  exited(): { code: number; stderr: string } | undefined
  /** Whether an SSH server greets on the forwarded port. */
  banner(): Promise<boolean>
  /** One login attempt with the seeded key. */
  login(): Promise<{ code: number; stderr: string }>
  log(message: string): void
}

export interface LoginWait {
  firmware: Firmware
  accel: Accel
  user: string
  /** When QEMU was started (probe clock). */
  started: number
  timeoutSeconds: number
}

export type Login = { ok: true; seconds: number } | { ok: false; check: CheckResult }

export function heartbeatLine(firmware: Firmware, accel: Accel, waitedMs: number, console: string): string {
  const last = lastConsoleLine(console)
  return `boot test ${firmware} (${accel}): waiting for SSH for ${Math.round(waitedMs / 1000)} s; console: ${last || '(nothing yet)'}`
}

function failed(name: string, detail: string): Login {
  return { ok: false, check: { name, ok: false, detail } }
}

/** Retry SSH until a login works, the guest shows it will never work, or the time is up. */
export async function waitForLogin(probe: LoginProbe, wait: LoginWait): Promise<Login> {
  const { accel, user, started } = wait
  const deadline = started + wait.timeoutSeconds * 1000
  let deniedSince: number | undefined
  let finishedSince: number | undefined
  let lastBeat = started
  for (;;) {
    const now = probe.now()
    const console = probe.console()
    const exited = probe.exited()
    if (exited) {
      const stderr = tail(exited.stderr, 10)
      if (accel === 'kvm' && /kvm/i.test(stderr)) throw new KvmUnusable(stderr)
      return failed(
        'qemu',
        `QEMU exited with code ${exited.code} before SSH answered${stderr ? `: ${stderr}` : ''}`
      )
    }
    if (
      accel === 'kvm' &&
      now - started > KVM_SILENCE_MS &&
      !/Linux version|login:|\[\s*\d+\.\d+\]/.test(console)
    )
      throw new KvmUnusable('the guest printed nothing on the serial console in 60 s')
    if (now > deadline) {
      return deniedSince !== undefined
        ? failed('ssh-login', `sshd kept refusing the seeded key for ${user} until the timeout`)
        : failed('ssh', `sshd did not answer within ${wait.timeoutSeconds} s`)
    }
    if (now - lastBeat >= HEARTBEAT_MS) {
      lastBeat = now
      probe.log(heartbeatLine(wait.firmware, accel, now - started, console))
    }
    if (await probe.banner()) {
      const login = await probe.login()
      if (login.code === 0) return { ok: true, seconds: (probe.now() - started) / 1000 }
      if (/Permission denied/i.test(login.stderr)) {
        deniedSince ??= now
        if (now - deniedSince > DENIED_GRACE_MS) {
          return failed(
            'ssh-login',
            `sshd answers but refused the seeded key for ${user} for ${DENIED_GRACE_MS / 1000} s (did cloud-init run, create the user and install the key?)`
          )
        }
      }
    } else if (/Cloud-init v\. \S+ finished/.test(console)) {
      finishedSince ??= now
      if (now - finishedSince > FINISHED_GRACE_MS) {
        return failed(
          'ssh',
          'cloud-init reported the boot finished on the serial console, but sshd does not answer on port 22'
        )
      }
    }
    await probe.sleep(POLL_MS)
  }
}
