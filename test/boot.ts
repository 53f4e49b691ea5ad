// Boots an image under QEMU the way the tests need it, with the boot test's own machine (src/boot/qemu.ts):
// a throw-away qcow2 overlay larger than the image (the image file is never written), a NoCloud seed made
// without mounting FAT, networking only through user-mode networking restricted to the host, a
// timeout, and the serial console captured. The guest reports on ttyS0 and powers itself off.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MemoryLog } from './support/log.js'
import { createOverlay, findOvmf, freePort, makeSeed, qemuArgv } from '../src/boot/qemu.js'
import { ProcessExec } from '../src/pipeline/exec.js'
import { KEYRING_READY } from '../src/stages/services.js'

export interface BootOptions {
  image: string
  firmware: 'bios' | 'uefi'
  userData: string
  /** Bytes of the disk the guest sees (larger than the image, so growpart has work); 4 GiB by default. */
  diskBytes?: number
  timeoutSeconds?: number
}

export interface BootResult {
  serial: string
  seconds: number
  exitCode: number | null
  timedOut: boolean
}

// TCG unless QEMU_ACCEL=kvm: this project's machines have a /dev/kvm whose guests die in the kernel.
const ACCEL = process.env.QEMU_ACCEL === 'kvm' ? 'kvm' : 'tcg'

/** Boot until the guest powers itself off (or the timeout), and return what it printed on ttyS0. */
export async function bootImage(options: BootOptions): Promise<BootResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-boot-'))
  const exec = new ProcessExec(new MemoryLog())
  try {
    const overlay = path.join(dir, 'overlay.qcow2')
    await createOverlay(
      exec,
      { path: options.image, format: 'qcow2' },
      overlay,
      options.diskBytes ?? 4 * 2 ** 30
    )
    const seed = await makeSeed(exec, dir, {
      instanceId: `arch-image-${path.basename(dir)}`,
      hostname: 'arch-image-test',
      userData: options.userData
    })
    const serial = path.join(dir, 'serial.log')
    const timeout = options.timeoutSeconds ?? 420
    const [command, ...args] = qemuArgv({
      firmware: options.firmware,
      accel: ACCEL,
      ovmf: findOvmf(),
      sshPort: await freePort(),
      files: {
        overlay,
        seed,
        console: serial,
        monitor: path.join(dir, 'monitor.sock'),
        pidFile: path.join(dir, 'qemu.pid')
      },
      limitSeconds: timeout
    })
    const started = performance.now()
    const child = spawn(command as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', chunk => (stderr += chunk))
    const exitCode = await new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
    const seconds = (performance.now() - started) / 1000
    let log = ''
    try {
      log = readFileSync(serial, 'latin1')
    } catch {
      log = ''
    }
    return {
      serial: `${log}${stderr ? `\n[qemu stderr] ${stderr}` : ''}`,
      seconds,
      exitCode,
      timedOut: exitCode === 124 || exitCode === 137
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * cloud-init user-data that starts, from bootcmd (early, not after the units ordered before cloud-final),
 * a transient unit that prints a line of progress while boot runs, then what the test checks, on the
 * serial console, and powers the guest off. Each write opens ttyS0 anew: when serial-getty starts it
 * hangs up the terminal, and writes through an fd opened before that fail.
 */
export function reportingUserData(marker: string): string {
  const units = REPORTED_UNITS.join(' ')
  const report = [
    // Progress: what systemd still waits for, so a slow or stuck boot can be read from the log.
    `until systemctl is-active -q multi-user.target; do echo "${marker} waiting=$(systemctl list-jobs --no-legend --plain | awk '{print $2}' | tr '\\n' ' ')" >/dev/ttyS0; sleep 30; done`,
    'state=$(systemctl is-system-running --wait)',
    '{',
    `echo "${marker} system=$state"`,
    `echo "${marker} multi-user=$(systemctl is-active multi-user.target)"`,
    `echo "${marker} machine-id=$(cat /etc/machine-id)"`,
    `echo "${marker} cmdline=$(cat /proc/cmdline)"`,
    `echo "${marker} root=$(findmnt -no SOURCE /)"`,
    `echo "${marker} root-bytes=$(findmnt -bno SIZE /)"`,
    `echo "${marker} locale=$(cat /etc/locale.conf)"`,
    `echo "${marker} keyring=$(test -e /etc/pacman.d/gnupg/trustdb.gpg && test -e ${KEYRING_READY} && echo populated)"`,
    `echo "${marker} startup=$(systemd-analyze time | head -n 1)"`,
    `echo "${marker} slowest=$(systemd-analyze blame --no-pager | head -n 5 | tr -s ' ' | tr '\\n' '|')"`,
    `for unit in ${units}; do echo "${marker} unit $unit=$(systemctl show -P Result $unit)/$(systemctl show -P ActiveState $unit)"; done`,
    `echo "${marker} failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\\n' ' ')"`,
    `for unit in $(systemctl --failed --no-legend --plain | awk '{print $1}'); do echo "${marker} journal $unit=$(journalctl -b -u $unit -o cat --no-pager | tail -n 6 | tr '\\n' '|')"; done`,
    `echo "${marker} done"`,
    '} >/dev/ttyS0 2>&1',
    'poweroff'
  ].join('\n')
  return [
    '#cloud-config',
    'bootcmd:',
    `  - [systemd-run, --no-block, --unit=arch-image-report, "--description=arch-image test report", /bin/sh, -c, ${JSON.stringify(report)}]`,
    ''
  ].join('\n')
}

/** The units the action enables, whose state the report prints. */
export const REPORTED_UNITS = [
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
]

/** The `<marker> key=value` lines of a serial log. */
export function reportedValues(serial: string, marker: string): Map<string, string> {
  const values = new Map<string, string>()
  for (const line of serial.split(/\r?\n/)) {
    const at = line.indexOf(`${marker} `)
    if (at < 0) continue
    const text = line.slice(at + marker.length + 1).trim()
    const eq = text.indexOf('=')
    values.set(eq < 0 ? text : text.slice(0, eq), eq < 0 ? '' : text.slice(eq + 1))
  }
  return values
}
