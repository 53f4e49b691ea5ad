import { describe, expect, it } from '@jest/globals'
import { sshArgv } from '../../src/boot/machine.js'

describe('SSH command line', () => {
  it('logs in with the throw-away key only, never asking or trusting', () => {
    const argv = sshArgv('/w/key', 40022, 'arch', 'true')
    expect(argv.join(' ')).toBe(
      'ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR -i /w/key -p 40022 arch@127.0.0.1 true'
    )
  })
})
