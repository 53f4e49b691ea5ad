// The time and the ids an image is made with: functions of its inputs only.
import { describe, expect, it } from '@jest/globals'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  debugfsDatingScript,
  imageIds,
  newestBuildDate,
  snapshotEpoch,
  sourceDateEpochBeforeInstall,
  sourceDateEpochEnv,
  usedInodes
} from '../../src/image/reproducible.js'
import { tempDir } from '../../test/support/temp-dir.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('SOURCE_DATE_EPOCH', () => {
  it('is the input, else the snapshot date at 00:00 UTC, else undecided until the packages are in', () => {
    expect(snapshotEpoch('2026/12/01')).toBe(Date.UTC(2026, 11, 1) / 1000)
    expect(sourceDateEpochBeforeInstall(1700000000, '2026/12/01')).toBe(1700000000)
    expect(sourceDateEpochBeforeInstall(undefined, '2026/12/01')).toBe(1796083200)
    expect(sourceDateEpochBeforeInstall(undefined, undefined)).toBeUndefined()
    expect(sourceDateEpochEnv({ sourceDateEpoch: 5 })).toEqual({ SOURCE_DATE_EPOCH: '5' })
    expect(sourceDateEpochEnv({})).toEqual({})
  })

  it("for a mirror build is the newest installed package's build date", () => {
    const root = tempDir()
    for (const [name, date] of [
      ['a-1-1', 1700000000],
      ['b-1-1', 1700000500],
      ['c-1-1', 1600000000]
    ] as const) {
      mkdirSync(path.join(root, 'var/lib/pacman/local', name), { recursive: true })
      writeFileSync(
        path.join(root, 'var/lib/pacman/local', name, 'desc'),
        `%NAME%\n${name.replace(/-1-1$/, '')}\n\n%VERSION%\n1-1\n\n%BUILDDATE%\n${date}\n\n%INSTALLDATE%\n1764700000\n`
      )
    }
    expect(newestBuildDate(root)).toBe(1700000500)
  })
})

describe('image ids', () => {
  it('are UUIDs derived from the image name, the snapshot and the epoch input: the same inputs, the same ids', () => {
    const ids = imageIds('arch-cloud-20261201', '2026/12/01')
    expect(imageIds('arch-cloud-20261201', '2026/12/01')).toEqual(ids)
    for (const uuid of [ids.diskGuid, ...ids.partitionGuids, ids.rootUuid, ids.hashSeed])
      expect(uuid).toMatch(UUID)
    expect(new Set([ids.diskGuid, ...ids.partitionGuids, ids.rootUuid, ids.hashSeed]).size).toBe(6)
    expect(ids.espVolumeId).toMatch(/^[0-9a-f]{8}$/)
    expect(imageIds('arch-cloud-20261202', '2026/12/01').rootUuid).not.toBe(ids.rootUuid)
    expect(imageIds('arch-cloud-20261201', '2026/12/02').rootUuid).not.toBe(ids.rootUuid)
    expect(imageIds('arch-cloud-20261201', '2026/12/01', 1).rootUuid).not.toBe(ids.rootUuid)
    expect(imageIds('arch-cloud-20261201', undefined).rootUuid).not.toBe(ids.rootUuid)
  })
})

describe('dating inodes', () => {
  const dump = [
    'Inode count:              6144',
    'First inode:              11',
    'Inodes per group:         2048',
    '',
    'Group 0: (Blocks 1-8192) csum 0x1778 [ITABLE_ZEROED]',
    '  Free inodes: 14-20, 23-2048',
    'Group 1: (Blocks 8193-16384) csum 0x4cf3 [INODE_UNINIT]',
    '  Free inodes: 2049-4096',
    'Group 2: (Blocks 16385-24576) csum 0x3038 [ITABLE_ZEROED]',
    '  Free inodes: 4098-6144',
    ''
  ].join('\n')

  it("reads the inodes in use from dumpe2fs's free ranges: the root directory and every ordinary inode", () => {
    expect(usedInodes(dump)).toEqual([2, 11, 12, 13, 21, 22, 4097])
  })

  it('dates access and change time of each', () => {
    expect(debugfsDatingScript([2, 11], 1700000000)).toBe(
      'sif <2> atime @1700000000\nsif <2> ctime @1700000000\nsif <11> atime @1700000000\nsif <11> ctime @1700000000\n'
    )
  })

  it('refuses output without the inode geometry', () => {
    expect(() => usedInodes('nothing')).toThrow('Inodes per group')
  })
})
