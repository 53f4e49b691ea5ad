// network: DHCP (v4 and v6) with systemd-networkd on every en*/eth* interface, systemd-resolved's
// stub as resolv.conf.
import type { Stage } from '../pipeline/runner.js'
import { rootOf } from '../image/chroot.js'
import { insideRoot, writeImageFile } from '../image/rootfs.js'

export const NETWORK_FILE = 'etc/systemd/network/80-arch-image-dhcp.network'

export function networkdDhcp(): string {
  return [
    '# Written by arch-image: DHCP on the NICs a cloud gives (eth* with net.ifnames=0, en* otherwise).',
    '[Match]',
    'Name=en* eth*',
    '',
    '[Network]',
    'DHCP=yes',
    'IPv6AcceptRA=yes',
    '',
    '[DHCPv4]',
    'UseDomains=yes',
    ''
  ].join('\n')
}

export const RESOLV_STUB = '/run/systemd/resolve/stub-resolv.conf'

export const networkStage: Stage = {
  name: 'network',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    await writeImageFile(ctx, NETWORK_FILE, networkdDhcp())
    const resolv = insideRoot(rootOf(ctx), 'etc/resolv.conf')
    await ctx.exec.run(['ln', '-sfn', RESOLV_STUB, resolv], { privileged: true })
  }
}
