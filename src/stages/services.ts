// services: the units a cloud image runs, a first-boot pacman keyring unit, and the user's choices.
import type { Config } from '../config/config.js'
import type { Stage } from '../pipeline/runner.js'
import { inChroot } from '../image/chroot.js'
import { CLOUD_INIT_UNITS } from '../image/layout.js'
import { writeImageFile } from '../image/rootfs.js'

export const DEFAULT_SERVICES = [
  'sshd',
  'systemd-networkd',
  'systemd-resolved',
  'systemd-timesyncd',
  ...CLOUD_INIT_UNITS,
  'pacman-init'
]

export const PACMAN_INIT_UNIT = 'etc/systemd/system/pacman-init.service'

/** Written once the keyring is populated; inside the keyring's directory, so wiping the keyring reruns the unit. */
export const KEYRING_READY = '/etc/pacman.d/gnupg/.pacman-init-done'

/**
 * The keyring is removed when sealing (its private key would be shared by every VM); make it at first
 * boot. Not ConditionFirstBoot: with the empty /etc/machine-id the image ships, systemd makes a fresh id
 * but does not call it a first boot (machine-id(5); seen in this project's boot test). Not the keyring's
 * own files either: `--init` makes them, so a `--populate` that failed or was cut short by a power-off
 * would never run again. A marker written after both steps lets a failed run retry at the next boot.
 */
export function pacmanInitUnit(): string {
  return [
    '# Written by arch-image.',
    '[Unit]',
    'Description=Initialize and populate the pacman keyring',
    `ConditionPathExists=!${KEYRING_READY}`,
    'Wants=time-sync.target',
    'After=time-sync.target',
    'Before=sshd.service cloud-final.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/bin/pacman-key --init',
    'ExecStart=/usr/bin/pacman-key --populate',
    `ExecStart=/usr/bin/touch ${KEYRING_READY}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    ''
  ].join('\n')
}

export function unitsToEnable(config: Config): string[] {
  const disabled = new Set(config.configure.servicesDisable.map(unit => unit.replace(/\.service$/, '')))
  const units = [...DEFAULT_SERVICES, ...config.configure.servicesEnable].filter(
    unit => !disabled.has(unit.replace(/\.service$/, ''))
  )
  return [...new Set(units)]
}

export const servicesStage: Stage = {
  name: 'services',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    await writeImageFile(ctx, PACMAN_INIT_UNIT, pacmanInitUnit())
    await inChroot(ctx, ['systemctl', 'enable', ...unitsToEnable(ctx.config)])
    if (ctx.config.configure.servicesDisable.length > 0) {
      await inChroot(ctx, ['systemctl', 'disable', ...ctx.config.configure.servicesDisable])
    }
  }
}
