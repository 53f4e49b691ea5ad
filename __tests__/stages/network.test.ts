import { describe, expect, it } from '@jest/globals'
import { networkdDhcp } from '../../src/stages/network.js'

describe('systemd-networkd', () => {
  it('runs DHCP v4 and v6 on en* and eth*', () => {
    const text = networkdDhcp()
    expect(text).toMatch(/^\[Match\]\nName=en\* eth\*\n/m)
    expect(text).toMatch(/^\[Network\]\nDHCP=yes\n/m)
  })
})
