// Where an Arch cloud image keeps what several stages (and the lint) write or read.

/** mkinitcpio's preset for a kernel package, relative to the root. */
export function presetPath(kernel: string): string {
  return `etc/mkinitcpio.d/${kernel}.preset`
}

/** cloud-init's units (their names since 24.3), in boot order: enabled by the services stage, required by the lint. */
export const CLOUD_INIT_UNITS = [
  'cloud-init-main',
  'cloud-init-local',
  'cloud-init-network',
  'cloud-config',
  'cloud-final'
]
