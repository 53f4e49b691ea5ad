// ssh: sshd without root login or passwords; host keys are made at first boot (seal removes any).
import type { Stage } from '../pipeline/runner.js'
import { writeImageFile } from '../image/rootfs.js'

// After cloud-init's 50-cloud-init.conf, so a user's `ssh_pwauth` in user-data still wins.
export const SSHD_DROP_IN = 'etc/ssh/sshd_config.d/60-arch-image.conf'

export function sshdDropIn(): string {
  return [
    '# Written by arch-image: keys only, no root login.',
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    ''
  ].join('\n')
}

export const sshStage: Stage = {
  name: 'ssh',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    await writeImageFile(ctx, SSHD_DROP_IN, sshdDropIn())
  }
}
