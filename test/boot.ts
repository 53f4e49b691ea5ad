// The stand-in cloud image (Debian's packages under Arch names, so it really boots), built by the
// bundled action once per test run and shared by the files that read it (test/run-cache.ts): its own
// boot-test gate boots it under SeaBIOS and then OVMF, and the gate's `boot-test-script` prints a report
// of the booted guest that test/cloud-image.test.ts reads back from the action's log. One build and two
// boots carry cloud-image's checks and boot-gate's passing case.
import path from 'node:path'
import { KEYRING_READY } from '../src/stages/services.js'
import { fixtureMirror, runAction, standinRepo, type ActionRun } from './helpers.js'
import type { HarnessEnv } from './openstack/harness.js'
import { memberEnv } from './openstack/harness.js'
import { oncePerRun } from './run-cache.js'

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

/** What starts each report line; the firmware follows (`ARCH-IMAGE-REPORT-bios key=value`). */
export const REPORT_MARKER = 'ARCH-IMAGE-REPORT'

/**
 * The `boot-test-script` of the shared image: first the checks boot-gate asserts through the gate's
 * `script` check (run as the default user, sudo without a password, sshd active), then `key=value`
 * lines about the booted guest, printed in one write so the action logs each line whole. The marker
 * is put together in the guest, so the script's own text (should anything log it) never matches.
 */
export function reportScript(): string {
  const units = REPORTED_UNITS.join(' ')
  return [
    'test "$(id -un)" = arch',
    'sudo -n test -s /etc/machine-id',
    'systemctl is-active sshd',
    // From here on a failing command is something to report, not a reason to stop.
    'set +e',
    'fw=bios; test -d /sys/firmware/efi && fw=uefi',
    `m="${REPORT_MARKER}-$fw"`,
    'state=$(timeout 300 systemctl is-system-running --wait)',
    'report=$(',
    'echo "$m system=$state"',
    'echo "$m multi-user=$(systemctl is-active multi-user.target)"',
    'echo "$m machine-id=$(cat /etc/machine-id)"',
    'echo "$m cmdline=$(cat /proc/cmdline)"',
    'echo "$m root=$(findmnt -no SOURCE /)"',
    'echo "$m root-bytes=$(findmnt -bno SIZE /)"',
    'echo "$m locale=$(cat /etc/locale.conf)"',
    `echo "$m keyring=$(sudo -n test -e /etc/pacman.d/gnupg/trustdb.gpg && sudo -n test -e ${KEYRING_READY} && echo populated)"`,
    'echo "$m startup=$(systemd-analyze time | head -n 1)"',
    `echo "$m slowest=$(systemd-analyze blame --no-pager | head -n 5 | tr -s ' ' | tr '\\n' '|')"`,
    `for unit in ${units}; do echo "$m unit $unit=$(systemctl show -P Result $unit)/$(systemctl show -P ActiveState $unit)"; done`,
    `echo "$m failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\\n' ' ')"`,
    `for unit in $(systemctl --failed --no-legend --plain | awk '{print $1}'); do echo "$m journal $unit=$(sudo -n journalctl -b -u $unit -o cat --no-pager | tail -n 6 | tr '\\n' '|')"; done`,
    'echo "$m done"',
    ')',
    `printf '%s\\n' "$report"`,
    ''
  ].join('\n')
}

/** The `<marker> key=value` lines of a log. */
export function reportedValues(log: string, marker: string): Map<string, string> {
  const values = new Map<string, string>()
  for (const line of log.split(/\r?\n/)) {
    const at = line.indexOf(`${marker} `)
    if (at < 0) continue
    const text = line.slice(at + marker.length + 1).trim()
    const eq = text.indexOf('=')
    values.set(eq < 0 ? text : text.slice(0, eq), eq < 0 ? '' : text.slice(eq + 1))
  }
  return values
}

/** How long a file may wait for the shared image: its build and two boots at their longest. */
export const SHARED_IMAGE_MINUTES = 60

export interface CloudBuild {
  /** The run's scratch directory (runner files, runner_temp, workspace, out/). */
  dir: string
  name: string
  run: ActionRun
}

/**
 * The default cloud image built from the stand-in repository by dist/main, gated by its own boot test
 * (both firmwares, `reportScript`), then published to the harness's Glance: once per test run, whoever
 * asks first. The caller must have the harness running (startHarness). The Glance image lives as long
 * as the run's harness state (test/global-teardown.js removes it).
 */
export function sharedCloudImage(h: HarnessEnv): Promise<CloudBuild> {
  return oncePerRun('cloud-image', SHARED_IMAGE_MINUTES, async dir => {
    const runId = path.basename(path.dirname(dir)).replace(/^arch-image-run-/, '')
    const name = `cloud-${runId.replace(/[^A-Za-z0-9]/g, '')}`
    const run = await runAction({
      dir,
      // This machine's /dev/kvm accepts guests that then die: TCG, as on any host without KVM.
      env: { QEMU_ACCEL: 'tcg', ...memberEnv(h) },
      inputs: {
        'image-name': name,
        mirror: fixtureMirror(standinRepo()),
        'signature-level': 'Never',
        'pacman-from': 'host',
        cache: 'false',
        'package-cache-dir': path.join(dir, 'pkg-cache'),
        'output-dir': path.join(dir, 'out'),
        glance: 'true',
        // Two boots one after the other, each with pacman-init: 3-4 min here, far more on a loaded
        // machine (900 s, the default, timed out with the load at 15-20 on 2 cores).
        'boot-test-timeout': '1500',
        'boot-test-script': reportScript()
      }
    })
    return { dir, name, run }
  })
}
