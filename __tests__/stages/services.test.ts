import { describe, expect, it } from '@jest/globals'
import { pacmanInitUnit, unitsToEnable } from '../../src/stages/services.js'
import { config } from '../../test/support/config.js'

describe('services', () => {
  it('writes a pacman-init unit that runs until the keyring is populated, after time sync and before sshd and cloud-final', () => {
    const text = pacmanInitUnit()
    // The marker, not the keyring's files: --init makes those, and a failed --populate must run again.
    expect(text).toContain('ConditionPathExists=!/etc/pacman.d/gnupg/.pacman-init-done\n')
    expect(text).toContain('After=time-sync.target\n')
    expect(text).toContain('Before=sshd.service cloud-final.service\n')
    expect(text).toMatch(
      /ExecStart=\/usr\/bin\/pacman-key --init\nExecStart=\/usr\/bin\/pacman-key --populate\nExecStart=\/usr\/bin\/touch \/etc\/pacman.d\/gnupg\/.pacman-init-done\n/
    )
    expect(text).toContain('WantedBy=multi-user.target\n')
  })

  it('enables the cloud image units plus the extras, less the disabled ones', () => {
    expect(unitsToEnable(config())).toEqual([
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
    ])
    const units = unitsToEnable(
      config({ 'services-enable': 'fstrim.timer sshd', 'services-disable': 'systemd-timesyncd.service' })
    )
    expect(units).toContain('fstrim.timer')
    expect(units).not.toContain('systemd-timesyncd')
    expect(units.filter(unit => unit === 'sshd')).toHaveLength(1)
  })
})
