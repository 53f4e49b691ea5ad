import { describe, expect, it } from '@jest/globals'
import YAML from 'yaml'
import { cloudInitConfig } from '../../src/stages/cloudinit.js'
import { config } from '../../test/support/config.js'

describe('cloud-init drop-in', () => {
  it('lists the datasources and makes the default user with NOPASSWD sudo and no password', () => {
    const text = cloudInitConfig(config())
    expect(text.startsWith('#cloud-config\n')).toBe(true)
    const parsed = YAML.parse(text)
    expect(parsed.datasource_list).toEqual(['ConfigDrive', 'OpenStack', 'NoCloud', 'Ec2'])
    expect(parsed.system_info.default_user).toEqual({
      name: 'arch',
      lock_passwd: true,
      gecos: 'Arch Linux cloud user',
      groups: ['wheel'],
      sudo: ['ALL=(ALL) NOPASSWD:ALL'],
      shell: '/bin/bash'
    })
    expect(parsed.growpart).toEqual({ mode: 'auto', devices: ['/'] })
    expect(parsed.resize_rootfs).toBe(true)
    expect(parsed.ssh_pwauth).toBe(false)
    expect(parsed.disable_root).toBe(true)
    // A string cloud-init's schema accepts and its locale module reads as "skip": the build set the locale.
    expect(text).toContain('\nlocale: "false"\n')
  })

  it('takes the user, groups and datasources from the inputs', () => {
    const parsed = YAML.parse(
      cloudInitConfig(config({ user: 'ops', 'user-groups': 'wheel adm', datasources: 'OpenStack' }))
    )
    expect(parsed.system_info.default_user.name).toBe('ops')
    expect(parsed.system_info.default_user.groups).toEqual(['wheel', 'adm'])
    expect(parsed.datasource_list).toEqual(['OpenStack'])
  })
})
