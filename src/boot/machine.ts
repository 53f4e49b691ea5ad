// The boot test's machine: a throw-away directory (overlay, seed, key, console, monitor socket) on the
// teardown stack, QEMU started on it (the exec seam tracks the process), the wait for the first SSH
// login, commands run in the guest as the seeded user, and the stop that releases it all.
import { mkdtempSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Firmware } from '../config/config.js'
import type { Accel } from '../pipeline/context.js'
import type { Exec, RunResult } from '../pipeline/exec.js'
import type { Log } from '../pipeline/log.js'
import type { Teardown } from '../pipeline/teardown.js'
import { readConsole } from './console.js'
import { POLL_MS, waitForLogin, type Login } from './login-wait.js'
import {
  createOverlay,
  findOvmf,
  freePort,
  makeSeed,
  monitorCommand,
  qemuArgv,
  sshBanner,
  type MachineFiles
} from './qemu.js'

/** What the driver uses of a run. */
export interface MachineHost {
  exec: Exec
  teardown: Teardown
  log: Log
  /** Where the machine's throw-away directory is made. */
  workDir: string
}

export interface MachineSpec {
  firmware: Firmware
  accel: Accel
  image: { path: string; format: string }
  /** The overlay's size: the disk the guest sees. */
  diskBytes: number
  /** The guest's default user, who logs in with the seeded key. */
  user: string
  /** For the first SSH login, from power-on; what runs in the guest afterwards shares the deadline. */
  timeoutSeconds: number
  seed: { instanceId: string; hostname: string; userData(publicKey: string): string }
}

export interface Machine {
  spec: MachineSpec
  files: MachineFiles
  /** The throw-away private key the seed authorises. */
  key: string
  port: number
  /** Power-on (performance.now()). */
  started: number
  deadline: number
  exited?: RunResult
  done: Promise<RunResult>
  /** The teardown handle of the machine's directory. */
  dirId: number
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

type Launched = Pick<Machine, 'port' | 'started' | 'done'> & { exited?: RunResult }

async function launch(host: MachineHost, spec: MachineSpec, files: MachineFiles): Promise<Launched> {
  const { firmware, accel } = spec
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const limitSeconds = spec.timeoutSeconds + 60
    const argv = qemuArgv({ firmware, accel, ovmf: findOvmf(), sshPort: port, files, limitSeconds })
    // Not awaited: QEMU runs while we wait for SSH. The exec seam puts it on the teardown stack.
    const done = host.exec.run(argv, { allowFailure: true, quiet: true })
    const launched: Launched = { port, started: performance.now(), done }
    void done.then(result => (launched.exited = result))
    await sleep(1000)
    // Another process took the port between our probe and QEMU's bind: try another.
    if (launched.exited && /hostfwd|host forwarding/i.test(launched.exited.stderr) && attempt < 3) continue
    return launched
  }
}

/** Prepares the machine's directory, key, seed and overlay, and powers it on. */
export async function startMachine(host: MachineHost, spec: MachineSpec): Promise<Machine> {
  const { exec, teardown } = host
  const dir = mkdtempSync(path.join(host.workDir, `boot-${spec.firmware}-`))
  const dirId = teardown.push({ kind: 'path', path: dir })
  try {
    const files: MachineFiles = {
      overlay: path.join(dir, 'overlay.qcow2'),
      seed: path.join(dir, 'seed.img'),
      console: path.join(dir, 'console.log'),
      monitor: path.join(dir, 'monitor.sock'),
      pidFile: path.join(dir, 'qemu.pid')
    }
    const key = path.join(dir, 'key')
    await exec.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'arch-image-boot-test', '-f', key])
    const { instanceId, hostname } = spec.seed
    const userData = spec.seed.userData(readFileSync(`${key}.pub`, 'utf8'))
    await makeSeed(exec, dir, { instanceId, hostname, userData })
    await createOverlay(exec, spec.image, files.overlay, spec.diskBytes)
    host.log.info(
      `booting ${path.basename(spec.image.path)} with ${spec.firmware} firmware (${spec.accel}), timeout ${spec.timeoutSeconds} s`
    )
    const launched = await launch(host, spec, files)
    host.log.info(`QEMU started; SSH forwarded from 127.0.0.1:${launched.port}`)
    const machine: Machine = {
      spec,
      files,
      key,
      dirId,
      ...launched,
      deadline: launched.started + spec.timeoutSeconds * 1000
    }
    // QEMU may exit at any time from now on: record it on the machine too.
    void launched.done.then(result => (machine.exited = result))
    return machine
  } catch (error) {
    await teardown.release(dirId)
    throw error
  }
}

/** Waits for the first SSH login as the seeded user (see login-wait.ts). */
export async function waitForGuest(host: MachineHost, machine: Machine): Promise<Login> {
  const { spec } = machine
  return waitForLogin(
    {
      now: () => performance.now(),
      sleep: async ms => {
        await sleep(ms)
      },
      console: () => readConsole(machine.files.console),
      exited: () => machine.exited,
      banner: () => sshBanner(machine.port),
      login: () =>
        host.exec.run(sshArgv(machine.key, machine.port, spec.user, 'true'), {
          allowFailure: true,
          quiet: true
        }),
      log: message => host.log.info(message)
    },
    {
      firmware: spec.firmware,
      accel: spec.accel,
      user: spec.user,
      started: machine.started,
      timeoutSeconds: spec.timeoutSeconds
    }
  )
}

/**
 * Runs a shell in the guest as the default user. ssh exits 255 when it could not run the command at
 * all: cloud-init's config stage restarts sshd (seen right after the first login), so reconnect.
 */
export async function inGuest(
  host: MachineHost,
  machine: Machine,
  command: string,
  input: string
): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    const seconds = Math.max(10, Math.round((machine.deadline - performance.now()) / 1000))
    const argv = sshArgv(machine.key, machine.port, machine.spec.user, command)
    const result = await host.exec.run(['timeout', String(seconds), ...argv], { allowFailure: true, input })
    const unreached = result.code === 255 && result.stdout === ''
    if (!unreached || attempt >= 10 || performance.now() > machine.deadline) return result
    await sleep(POLL_MS)
  }
}

/** Stops QEMU (monitor `quit`, then SIGKILL after 15 s), releases the machine's directory and
 * returns the whole serial console as text. */
export async function stopMachine(host: MachineHost, machine: Machine): Promise<string> {
  if (!machine.exited) await monitorCommand(machine.files.monitor, 'quit')
  const stopped = await Promise.race([machine.done.then(() => true), sleep(15_000).then(() => false)])
  if (!stopped) {
    const pid = readFileSync(machine.files.pidFile, 'utf8').trim()
    await host.exec.run(['kill', '-KILL', pid], { allowFailure: true, quiet: true })
    await machine.done
  }
  const console = readConsole(machine.files.console)
  await host.teardown.release(machine.dirId)
  return console
}
