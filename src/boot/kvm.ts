// The `kvm` input: whether the boot test uses KVM, and whether arch-image may open /dev/kvm to the
// runner's user first. GitHub's hosted Linux runners have a /dev/kvm that only root and the kvm group
// may open; a udev rule (through `sudo -n`) opens it to everyone, as their docs suggest. arch-image
// does that only where it is sure it runs on a throw-away hosted machine, never on a self-hosted one.
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { KvmSetting } from '../config/config.js'
import type { Accel } from '../pipeline/context.js'
import type { Exec } from '../pipeline/exec.js'
import type { Log } from '../pipeline/log.js'

/** What the host offers, read before deciding (injected in tests). */
export interface KvmFacts {
  /** RUNNER_ENVIRONMENT: `github-hosted` or `self-hosted` (unset outside Actions). */
  runnerEnvironment?: string
  deviceExists: boolean
  /** The device opens for reading and writing as the user we run as. */
  accessible: boolean
}

export type KvmDecision =
  | { action: 'use'; accel: Accel }
  /** Open the device with the udev rule, then use KVM (or, for `auto`, TCG if it still won't open). */
  | { action: 'open'; required: boolean }
  | { action: 'refuse'; reason: string }

export const KVM_UDEV_RULE_PATH = '/etc/udev/rules.d/99-arch-image-kvm.rules'
export const KVM_UDEV_RULE = 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"\n'

export function decideKvm(setting: KvmSetting, facts: KvmFacts): KvmDecision {
  if (setting === 'false') return { action: 'use', accel: 'tcg' }
  if (facts.accessible) return { action: 'use', accel: 'kvm' }
  const hosted = facts.runnerEnvironment === 'github-hosted'
  if (setting === 'true') {
    if (!facts.deviceExists) {
      return { action: 'refuse', reason: 'kvm: true, but this host has no /dev/kvm; use kvm: auto or false' }
    }
    return { action: 'open', required: true }
  }
  if (facts.deviceExists && hosted) return { action: 'open', required: false }
  return { action: 'use', accel: 'tcg' }
}

/** The log line for a boot test that runs under TCG although the host has a /dev/kvm. */
export function tcgNotice(setting: KvmSetting, facts: KvmFacts): string | undefined {
  if (setting === 'false' || !facts.deviceExists || facts.accessible) return undefined
  return (
    '/dev/kvm exists but this user cannot open it, so the boot test uses TCG emulation (several times slower). ' +
    (facts.runnerEnvironment === 'github-hosted'
      ? 'Opening it with a udev rule did not help.'
      : 'On a self-hosted runner arch-image does not change device permissions: add the runner user to the kvm group, or set kvm: true to let arch-image open it.')
  )
}

/**
 * Open /dev/kvm to every user with a udev rule (root through `sudo -n`): the rule file, a reload, a
 * trigger for the kvm node, and a settle so the new mode is in place when we look again.
 */
export async function openKvmDevice(exec: Exec, log: Log, stagingDir: string): Promise<void> {
  const staged = path.join(stagingDir, 'kvm.rules')
  writeFileSync(staged, KVM_UDEV_RULE)
  log.info(`opening /dev/kvm to the runner's user with a udev rule (${KVM_UDEV_RULE_PATH})`)
  await exec.run(['install', '-D', '-m', '0644', '--', staged, KVM_UDEV_RULE_PATH], { privileged: true })
  await exec.run(['udevadm', 'control', '--reload-rules'], { privileged: true })
  await exec.run(['udevadm', 'trigger', '--name-match=kvm'], { privileged: true })
  await exec.run(['udevadm', 'settle', '--timeout=10'], { privileged: true, allowFailure: true })
}

/** The facts of this host. */
export function kvmFacts(env: NodeJS.ProcessEnv = process.env, device = '/dev/kvm'): KvmFacts {
  let accessible = false
  try {
    accessSync(device, constants.R_OK | constants.W_OK)
    accessible = true
  } catch {
    // not for us
  }
  return {
    ...(env.RUNNER_ENVIRONMENT ? { runnerEnvironment: env.RUNNER_ENVIRONMENT } : {}),
    deviceExists: existsSync(device),
    accessible
  }
}

/**
 * The accelerator for the boot test, after opening /dev/kvm when the setting and the runner allow it.
 * QEMU_ACCEL=tcg|kvm decides instead (hosts whose /dev/kvm runs no guest: nested virtualisation
 * without the CPU features).
 */
export async function acceleratorFor(
  setting: KvmSetting,
  run: { exec: Exec; log: Log; workDir: string },
  env: NodeJS.ProcessEnv = process.env,
  readFacts: () => KvmFacts = () => kvmFacts(env)
): Promise<Accel> {
  if (env.QEMU_ACCEL === 'tcg' || env.QEMU_ACCEL === 'kvm') return env.QEMU_ACCEL
  const facts = readFacts()
  const decision = decideKvm(setting, facts)
  if (decision.action === 'refuse') throw new Error(decision.reason)
  if (decision.action === 'use') {
    const notice = decision.accel === 'tcg' ? tcgNotice(setting, facts) : undefined
    if (notice) run.log.warning(notice)
    return decision.accel
  }
  await openKvmDevice(run.exec, run.log, run.workDir)
  const after = readFacts()
  if (after.accessible) {
    run.log.info('/dev/kvm opens for this user now: the boot test uses KVM')
    return 'kvm'
  }
  if (decision.required) {
    throw new Error(
      'kvm: true, but /dev/kvm still cannot be opened after the udev rule; use kvm: auto or false'
    )
  }
  run.log.warning(tcgNotice(setting, after) as string)
  return 'tcg'
}
