// What the boot test asks a booted guest, and how the answers are judged. The probe runs in one SSH
// session as the default user and prints `key=value` lines; judging them is plain code.
import type { Firmware } from '../config/config.js'
import type { CheckResult } from '../pipeline/context.js'

/** Where the seed's runcmd leaves its marker. */
export const MARKER_FILE = '/var/lib/arch-image-boot-test'

export interface Expected {
  firmware: Firmware
  user: string
  hostname: string
  marker: string
  /** The disk the guest was given, and the image's own virtual disk. */
  diskBytes: number
  imageBytes: number
}

export function userData(publicKey: string, marker: string): string {
  return [
    '#cloud-config',
    '# Written by arch-image for its boot test.',
    'ssh_authorized_keys:',
    `  - ${publicKey.trim()}`,
    'runcmd:',
    `  - [sh, -c, 'echo ${marker} > ${MARKER_FILE}']`,
    ''
  ].join('\n')
}

// sh, not bash: it must work in any image. Every line is key=value; some keys repeat.
export const PROBE = [
  'echo "user=$(id -un)"',
  'if sudo -n true; then echo sudo=ok; else echo sudo=refused; fi',
  'out=$(cloud-init status --wait --long 2>&1); echo "cloud-init-exit=$?"',
  'printf "%s\\n" "$out" | sed "s/^/cloud-init=/"',
  'echo "hostname=$(hostname)"',
  'echo "static-hostname=$(cat /etc/hostname 2>/dev/null)"',
  `echo "marker=$(cat ${MARKER_FILE} 2>/dev/null)"`,
  'echo "root-bytes=$(df -B1 --output=size / | tail -n 1 | tr -d " ")"',
  'echo "machine-id=$(cat /etc/machine-id)"',
  'for key in /etc/ssh/ssh_host_*_key.pub; do [ -e "$key" ] && echo "host-key=$(cut -d" " -f1,2 "$key")"; done',
  'if [ -d /sys/firmware/efi ]; then echo firmware=uefi; else echo firmware=bios; fi',
  'echo "system=$(timeout 120 systemctl is-system-running --wait 2>&1)"',
  'systemctl --failed --no-legend --plain | while read -r unit rest; do echo "failed=$unit"; done',
  'echo probe=done',
  ''
].join('\n')

export type Answers = Map<string, string[]>

export function parseAnswers(text: string): Answers {
  const answers: Answers = new Map()
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const key = line.slice(0, eq)
    answers.set(key, [...(answers.get(key) ?? []), line.slice(eq + 1).trimEnd()])
  }
  return answers
}

const GiB = 1024 ** 3

function formatGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(2)} GiB`
}

/** Judges one boot's answers. Host keys are compared across boots separately (compareBoots). */
export function judge(answers: Answers, expected: Expected): CheckResult[] {
  const one = (key: string): string => answers.get(key)?.[0] ?? ''
  const results: CheckResult[] = []
  const check = (name: string, ok: boolean, detail: string): void => {
    results.push({ name, ok, detail })
  }
  if (one('probe') !== 'done') {
    check('probe', false, 'the checks did not run to the end in the guest')
  }
  check('firmware', one('firmware') === expected.firmware, `booted with ${one('firmware') || '?'}`)
  check(
    'sudo',
    one('sudo') === 'ok',
    one('sudo') === 'ok' ? `sudo -n true works for ${expected.user}` : 'sudo -n true was refused'
  )

  const status = answers.get('cloud-init') ?? []
  const statusLine = status.find(line => /^status:/.test(line)) ?? ''
  const errorsLine = status.find(line => /^errors:/.test(line))
  const exit = one('cloud-init-exit')
  // cloud-init 24+ exits 2 for "done with recoverable errors" (deprecations and the like).
  const cloudInitOk =
    /^status:\s*done\s*$/.test(statusLine) &&
    (exit === '0' || exit === '2') &&
    (errorsLine === undefined || /^errors:\s*\[\]\s*$/.test(errorsLine))
  check(
    'cloud-init',
    cloudInitOk,
    cloudInitOk
      ? 'cloud-init status --wait: done'
      : `cloud-init status --wait exited ${exit || '?'}: ${status.join(' | ') || 'no answer'}`
  )

  // cloud-init writes the seeded name to /etc/hostname; on Arch it then sets the running name with
  // `hostnamectl --transient` in its network stage, before D-Bus runs, which fails (measured with the
  // stand-in): the running name follows at the next boot. The check is on what cloud-init configured.
  const running = one('hostname')
  const configured = one('static-hostname')
  check(
    'hostname',
    configured === expected.hostname,
    `/etc/hostname ${JSON.stringify(configured)}, running ${JSON.stringify(running)}, seeded ${JSON.stringify(expected.hostname)}`
  )
  check(
    'runcmd',
    one('marker') === expected.marker,
    one('marker') === expected.marker ? `marker ${MARKER_FILE} written` : `no runcmd marker in ${MARKER_FILE}`
  )

  const rootBytes = Number(one('root-bytes'))
  // The root filesystem must outgrow the image's whole disk and fill most of the larger one.
  const grown = rootBytes > expected.imageBytes && rootBytes >= expected.diskBytes * 0.85
  check(
    'root-grown',
    grown,
    `root filesystem ${Number.isFinite(rootBytes) && rootBytes > 0 ? formatGiB(rootBytes) : '?'} on a ${formatGiB(expected.diskBytes)} disk (image ${formatGiB(expected.imageBytes)})`
  )

  const machineId = one('machine-id')
  check(
    'machine-id',
    /^[0-9a-f]{32}$/.test(machineId) && !/^0+$/.test(machineId),
    `/etc/machine-id ${JSON.stringify(machineId)}`
  )
  const keys = answers.get('host-key') ?? []
  check('host-keys', keys.length > 0, `${keys.length} SSH host key(s)`)

  const failed = answers.get('failed') ?? []
  check(
    'failed-units',
    failed.length === 0,
    failed.length === 0
      ? `no failed units (system ${one('system') || '?'})`
      : `failed units: ${failed.join(' ')}`
  )
  return results
}

/** Across boots: every boot of the pristine image must make its own machine-id and host keys. */
export function compareBoots(boots: { firmware: Firmware; answers: Answers }[]): CheckResult[] {
  if (boots.length < 2) return []
  const [first, second] = boots as [(typeof boots)[0], (typeof boots)[0]]
  const label = `${first.firmware} and ${second.firmware}`
  const sharedKeys = (first.answers.get('host-key') ?? []).filter(key =>
    (second.answers.get('host-key') ?? []).includes(key)
  )
  const sameId = first.answers.get('machine-id')?.[0] === second.answers.get('machine-id')?.[0]
  return [
    {
      name: 'host-keys',
      ok: sharedKeys.length === 0,
      detail:
        sharedKeys.length === 0
          ? `the ${label} boots made different SSH host keys`
          : `the ${label} boots share SSH host keys (baked into the image?): ${sharedKeys.map(key => key.split(' ')[0]).join(' ')}`
    },
    {
      name: 'machine-id',
      ok: !sameId,
      detail: sameId
        ? `the ${label} boots have the same machine-id (baked into the image?)`
        : `the ${label} boots made different machine-ids`
    }
  ]
}
