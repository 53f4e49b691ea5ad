import { describe, expect, it } from '@jest/globals'
import { snapshotServer, unixTimeToArchiveDate } from '../../src/stages/resolve.js'
import { config as configOf } from '../../test/support/config.js'

const config = configOf({ 'package-cache-dir': '/var/cache/ai' }, { cwd: '/w' })

describe('snapshots', () => {
  it('turns lastsync into the Archive date (UTC) and its server line', () => {
    expect(unixTimeToArchiveDate(1764028800)).toBe('2025/11/25')
    expect(unixTimeToArchiveDate(1764115199)).toBe('2025/11/25')
    expect(snapshotServer(config, '2025/11/25')).toBe(
      'https://archive.archlinux.org/repos/2025/11/25/$repo/os/$arch'
    )
  })
})
