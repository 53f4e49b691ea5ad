// cloud-init: datasources, the default user with NOPASSWD sudo, and growing the root partition.
import YAML from 'yaml'
import type { Config } from '../config/config.js'
import type { Stage } from '../pipeline/runner.js'
import { writeImageFile } from '../image/rootfs.js'

export const CLOUD_INIT_DROP_IN = 'etc/cloud/cloud.cfg.d/90-arch-image.cfg'

export function cloudInitConfig(config: Config): string {
  const settings = {
    datasource_list: config.configure.datasources,
    system_info: {
      default_user: {
        name: config.configure.user,
        lock_passwd: true,
        gecos: 'Arch Linux cloud user',
        groups: config.configure.userGroups,
        sudo: ['ALL=(ALL) NOPASSWD:ALL'],
        shell: '/bin/bash'
      }
    },
    disable_root: true,
    ssh_pwauth: false,
    growpart: { mode: 'auto', devices: ['/'] },
    resize_rootfs: true,
    // The locale was set when building; cloud-init's locale module would replace it with en_US.UTF-8 (and
    // run locale-gen at first boot). A string: the schema wants one, and the module skips on "false".
    locale: 'false'
  }
  return `#cloud-config\n# Written by arch-image.\n${YAML.stringify(settings)}`
}

export const cloudInitStage: Stage = {
  name: 'cloud-init',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    await writeImageFile(ctx, CLOUD_INIT_DROP_IN, cloudInitConfig(ctx.config))
  }
}
