// Reproducible images: the same inputs, built at different times in different directories, once
// through the CLI and once through the action as the runner runs it, give the same bytes; a reference
// that differs (the CLI's image with two files changed) fails the action's build with diffoscope's
// report of what differs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/**
 * A reference image that differs from `image` in two files of its root filesystem (one changed, one
 * added): what a tampered or non-reproduced published image would be. Converted, attached, mounted
 * read-write, changed and converted back in seconds; nothing is left attached.
 */
function tamperedCopy(image: string, dir: string): string {
  const raw = path.join(dir, 'reference.raw')
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, raw])
  const device = execFileSync('losetup', ['--find', '--show', '--partscan', raw], { encoding: 'utf8' }).trim()
  const mountpoint = path.join(dir, 'mnt')
  mkdirSync(mountpoint)
  try {
    execFileSync('partx', ['-u', device])
    for (let tries = 0; !existsSync(`${device}p3`) && tries < 100; tries++) execFileSync('sleep', ['0.1'])
    execFileSync('mount', [`${device}p3`, mountpoint])
    try {
      writeFileSync(path.join(mountpoint, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n')
      writeFileSync(path.join(mountpoint, 'etc/reference-only'), 'not in the build\n')
    } finally {
      execFileSync('umount', [mountpoint])
    }
  } finally {
    execFileSync('losetup', ['--detach', device])
  }
  const reference = path.join(dir, `${NAME}.qcow2`)
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, reference])
  rmSync(raw)
  return reference
}

let repo: string
const dirs: string[] = []
let cli: CliBuild
let cliImage: string
let action: ActionRun
let actionImage: string
let reference: string
let referenceSha256: string
const started: number[] = []
let seconds: number

beforeAll(async () => {
  const t0 = Date.now()
  repo = fixtureRepo()
  const cliDir = scratchDir('arch-image-repro-cli-')
  const actionDir = scratchDir('arch-image-repro-action-')
  const referenceDir = scratchDir('arch-image-repro-reference-')
  dirs.push(cliDir, actionDir, referenceDir)
  const imageInputs = (dir: string): Record<string, string> => ({
    ...fixtureInputs(repo, dir),
    'image-name': NAME,
    'disk-size': DISK_SIZE,
    'source-date-epoch': EPOCH
  })

  // The CLI's build is told a wrong digest: it must fail, say so, and keep its image.
  started.push(Date.now())
  cli = cliBuild(cliDir, { ...imageInputs(cliDir), 'expect-sha256': WRONG, 'output-dir': 'out' })
  cliImage = path.join(cliDir, 'out', `${NAME}.qcow2`)

  // The published image the action's build is checked against: the CLI's, with two files changed, and
  // its SHA256SUMS (what a workflow would download from the release).
  reference = existsSync(cliImage) ? tamperedCopy(cliImage, referenceDir) : path.join(referenceDir, 'missing')
  referenceSha256 = existsSync(reference) ? sha256(reference) : WRONG
  const sums = path.join(referenceDir, 'SHA256SUMS')
  writeFileSync(sums, `${referenceSha256}  ${NAME}.qcow2\n`)

  // At least a second later (so every time the kernel would write differs), elsewhere, through the
  // action as the runner runs it, told the reference's digest and given the reference image.
  await new Promise(resolve => setTimeout(resolve, 1_100))
  started.push(Date.now())
  action = await runAction({
    dir: actionDir,
    inputs: {
      ...imageInputs(actionDir),
      'expect-sha256sums': sums,
      'expect-image': reference,
      'output-dir': path.join(actionDir, 'out')
    }
  })
  actionImage = path.join(actionDir, 'out', `${NAME}.qcow2`)
  seconds = (Date.now() - t0) / 1000
}, 600_000)

afterAll(() => {
  for (const dir of dirs) {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    execFileSync('rm', ['-rf', dir])
  }
})

describe('two builds of the same inputs (fixture repository, configure: false, ext4)', () => {
  it('the CLI with a wrong expect-sha256 fails after building, names both digests and keeps the image', () => {
    expect(cli.status).not.toBe(0)
    expect(existsSync(cliImage)).toBe(true)
    expect(cli.outputs.error).toContain(
      `expect-sha256: the image's sha256 is ${sha256(cliImage)}, not ${WRONG}`
    )
    expect(readFileSync(path.join(path.dirname(cliImage), 'SHA256SUMS'), 'utf8')).toContain(
      `${sha256(cliImage)}  ${NAME}.qcow2`
    )
  })

  it("the action, later and elsewhere, checked against a differing reference's SHA256SUMS, fails naming both digests, outputs reproducible=false", () => {
    expect(started[1]! - started[0]!).toBeGreaterThan(1_000)
    expect(action.code).not.toBe(0)
    expect(referenceSha256).not.toBe(sha256(actionImage))
    expect(action.output).toContain(
      `expect-sha256sums (${path.join(path.dirname(reference), 'SHA256SUMS')}, ${NAME}.qcow2): ` +
        `the image's sha256 is ${sha256(actionImage)}, not ${referenceSha256}`
    )
    expect(action.outputs.reproducible).toBe('false')
  })

  it("writes diffoscope's report of the two root filesystems next to the image, naming the changed files, and shows it in the summary", () => {
    const report = `${actionImage}.diffoscope.txt`
    expect(action.output).toContain(`diffoscope's report of the differences from ${reference}: ${report}`)
    const text = readFileSync(report, 'utf8')
    expect(text).toMatch(/etc\/machine-id/)
    // The reference's machine-id, as diffoscope shows a file it sees as binary: a hex dump.
    expect(text).toContain('-00000000: 3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef')
    // In the reference's file list of etc, not in the build's.
    expect(text).toMatch(/^│ │ -reference-only$/m)
    expect(existsSync(`${actionImage}.diffoscope.html`)).toBe(true)
    expect(action.summary).toContain(`Differences from ${reference}`)
    expect(action.summary).toContain(report)
    expect(action.summary).toContain('etc/machine-id')
    // Attached read-only, released: nothing of the comparison is left (afterAll checks the loops and mounts).
    expect(action.output).toMatch(/losetup --find --show --read-only --partscan/)
    expect(action.output).toMatch(/mount -o ro,noload/)
    process.stdout.write(
      `test/reproducible.test.ts: two builds and the comparison took ${seconds.toFixed(0)} s\n`
    )
  })

  it('gives the same qcow2 and the same raw disk, byte for byte', () => {
    expect(path.dirname(cliImage)).not.toBe(path.dirname(actionImage))
    expect(sha256(cliImage)).toBe(sha256(actionImage))
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
