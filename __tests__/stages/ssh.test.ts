import { describe, expect, it } from '@jest/globals'
import { sshdDropIn } from '../../src/stages/ssh.js'

describe('sshd drop-in', () => {
  it('allows keys only and no root login', () => {
    expect(
      sshdDropIn()
        .split('\n')
        .filter(line => line && !line.startsWith('#'))
    ).toEqual(['PermitRootLogin no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no'])
  })
})
