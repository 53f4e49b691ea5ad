// Reproducible images: the same inputs, built at different times in different directories, once
// through the action as the runner runs it and once through the CLI, give the same bytes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { imageIds } from '../src/image/reproducible.js'
import {
  cliBuild,
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  runAction,
  scratchDir,
  type ActionRun,
  type CliBuild
} from './helpers.js'

const NAME = 'repro'
const EPOCH = '1733011200'
const WRONG = '0'.repeat(64)
const DISK_SIZE = '600M'

/** sha256sum's digest: a GiB of raw disk is read in seconds, not held in memory. */
function sha256(file: string): string {
  return execFileSync('sha256sum', ['--', file], { encoding: 'utf8' }).split(' ')[0] as string
}

/** The raw disk inside a qcow2, for its own digest and for reading it without a mount. */
function rawOf(qcow2: string): string {
  const raw = `${qcow2}.raw`
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw])
  return raw
}

let repo: string
const dirs: string[] = []
let action: ActionRun
let actionImage: string
let cli: CliBuild
let cliImage: string
const started: number[] = []

beforeAll(async () => {
  repo = fixtureRepo()
  const actionDir = scratchDir('arch-image-repro-action-')
  const cliDir = scratchDir('arch-image-repro-cli-')
  dirs.push(actionDir, cliDir)

  // The action's build is told a wrong digest: it must fail, say so, and keep its image.
  started.push(Date.now())
  action = await runAction({
    dir: actionDir,
    inputs: {
      ...fixtureInputs(repo, actionDir),
      'image-name': NAME,
      'disk-size': DISK_SIZE,
      'source-date-epoch': EPOCH,
      'expect-sha256': WRONG,
      'output-dir': path.join(actionDir, 'out')
    }
  })
  actionImage = path.join(actionDir, 'out', `${NAME}.qcow2`)

  // At least a second later (so every time the kernel would write differs), elsewhere, through the
  // CLI, told the digest the action's build got.
  await new Promise(resolve => setTimeout(resolve, 1_100))
  started.push(Date.now())
  const expected = existsSync(actionImage) ? sha256(actionImage) : WRONG
  const inputs = {
    ...fixtureInputs(repo, cliDir),
    'image-name': NAME,
    'disk-size': DISK_SIZE,
    'source-date-epoch': EPOCH
  }
  cli = cliBuild(cliDir, { ...inputs, 'expect-sha256': expected, 'output-dir': 'out' })
  cliImage = path.join(cliDir, 'out', `${NAME}.qcow2`)
}, 600_000)

afterAll(() => {
  for (const dir of dirs) {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    execFileSync('rm', ['-rf', dir])
  }
})

describe('two builds of the same inputs (fixture repository, configure: false, ext4)', () => {
  it('the action with a wrong expect-sha256 fails after building, names both digests, keeps the image and outputs reproducible=false', () => {
    expect(action.code).not.toBe(0)
    expect(action.output).toContain(
      `expect-sha256: the image's sha256 is ${sha256(actionImage)}, not ${WRONG}`
    )
    expect(action.outputs.reproducible).toBe('false')
    expect(action.summary).toContain('compare')
    expect(readFileSync(path.join(path.dirname(actionImage), 'SHA256SUMS'), 'utf8')).toContain(
      `${sha256(actionImage)}  ${NAME}.qcow2`
    )
  })

  it('the CLI, later and elsewhere, told the action image digest, passes with reproducible=true', () => {
    expect(started[1]! - started[0]!).toBeGreaterThan(1_000)
    expect(cli.status).toBe(0)
    expect(cli.outputs.reproducible).toBe('true')
  })

  it('gives the same qcow2 and the same raw disk, byte for byte', () => {
    expect(path.dirname(cliImage)).not.toBe(path.dirname(actionImage))
    expect(sha256(cliImage)).toBe(sha256(actionImage))
    expect(cli.outputs.sha256).toBe(sha256(actionImage))
    expect(sha256(rawOf(cliImage))).toBe(sha256(rawOf(actionImage)))
    // The SBOMs name the image's digest and date themselves by the epoch: the same bytes too.
    for (const sbom of [`${NAME}.spdx.json`, `${NAME}.cdx.json`]) {
      const fromAction = readFileSync(path.join(path.dirname(actionImage), sbom))
      expect(readFileSync(path.join(path.dirname(cliImage), sbom)).equals(fromAction)).toBe(true)
    }
  })

  it('is made of the inputs: ids derived from name and epoch, times at the epoch, the packages installed', () => {
    const raw = `${cliImage}.raw`
    const ids = imageIds(NAME, undefined, Number(EPOCH))
    const sfdisk = JSON.parse(execFileSync('sfdisk', ['--json', raw], { encoding: 'utf8' })) as {
      partitiontable: { id: string; partitions: { uuid: string; start: number; size: number }[] }
    }
    expect(sfdisk.partitiontable.id.toLowerCase()).toBe(ids.diskGuid)
    expect(sfdisk.partitiontable.partitions.map(p => p.uuid.toLowerCase())).toEqual(ids.partitionGuids)
    // The root partition, read with debugfs at its offset: no loop device, no mount.
    const root = sfdisk.partitiontable.partitions[2]!
    const debugfs = (request: string): string =>
      execFileSync('debugfs', ['-R', request, `${raw}?offset=${root.start * 512}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore']
      })
    const superblock = execFileSync('dumpe2fs', ['-h', `${raw}?offset=${root.start * 512}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    })
    expect(superblock).toMatch(new RegExp(`^Filesystem UUID:\\s+${ids.rootUuid}$`, 'm'))
    expect(superblock).toMatch(new RegExp(`^Directory Hash Seed:\\s+${ids.hashSeed}$`, 'm'))
    const machineId = debugfs('stat /etc/machine-id')
    for (const field of ['ctime', 'atime', 'mtime', 'crtime'])
      expect(machineId).toMatch(new RegExp(`${field}: 0x${Number(EPOCH).toString(16)}:00000000`))
    expect(debugfs('cat /var/lib/pacman/local/base-1.0-1/desc')).toMatch(
      new RegExp(`%INSTALLDATE%\\n${EPOCH}\\n`)
    )
    expect(debugfs('ls /usr/bin')).toContain('busybox')
  })
})
