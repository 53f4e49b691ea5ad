// The whole build on real loop devices with real pacstrap from the fixture repository, run as the
// runner runs the action; the produced image is read back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { INPUTS } from '../src/config/inputs.js'
import { cyclonedxDocument } from '../src/sbom/cyclonedx.js'
import { sbomCreated, sbomText, TOOL_VERSION, type SbomInput } from '../src/sbom/document.js'
import { readPackageRecords } from '../src/sbom/pacman-db.js'
import { spdxDocument } from '../src/sbom/spdx.js'
import {
  REPO_ROOT,
  fixtureInputs,
  fixtureMirror,
  fixtureRepo,
  leaksUnder,
  runAction,
  runPost,
  scratchDir,
  withImageRoot,
  type ActionRun
} from './helpers.js'
import { cyclonedxErrors, spdxSchemaErrors } from './support/sbom-validators.js'

const SEALED = [
  'etc/ssh/ssh_host_ed25519_key',
  'etc/ssh/ssh_host_ed25519_key.pub',
  'etc/ssh/ssh_host_rsa_key',
  'etc/ssh/ssh_host_rsa_key.pub',
  'etc/pacman.d/gnupg',
  'var/lib/dbus/machine-id',
  'var/log/pacman.log',
  'var/log/fixture-install.log',
  'root/.bash_history',
  'var/lib/pacman/sync/core.db',
  'var/lib/pacman/sync/extra.db'
]

function exists(file: string): boolean {
  try {
    lstatSync(file)
    return true
  } catch {
    return false
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

let repo: string

interface SpdxDoc {
  packages: { SPDXID: string; name: string; checksums?: { algorithm: string; checksumValue: string }[] }[]
}
interface CycloneDxDoc {
  metadata: { component: { hashes: { alg: string; content: string }[] } }
  components: { name: string; version: string; purl: string }[]
}

/** The ext4 build's SBOMs, kept for the btrfs build to compare its package entries with. */
const ext4Sboms: { spdx?: SpdxDoc; cyclonedx?: CycloneDxDoc } = {}

beforeAll(() => {
  repo = fixtureRepo()
}, 300_000)

describe('ext4 build from a file:// mirror', () => {
  let dir: string
  let run: ActionRun

  beforeAll(async () => {
    dir = scratchDir()
    run = await runAction({
      dir,
      inputs: {
        ...fixtureInputs(repo, dir),
        'image-name': 'fixture-ext4',
        packages: 'fixture-hello'
      }
    })
  }, 300_000)

  afterAll(() => {
    execFileSync('rm', ['-rf', dir])
  })

  it('succeeds and writes every output to GITHUB_OUTPUT', () => {
    expect(run.output).not.toMatch(/::error::/)
    expect(run.code).toBe(0)
    const image = path.join(dir, 'workspace/arch-image-out/fixture-ext4.qcow2')
    expect(run.outputs).toEqual({
      'image-path': image,
      'image-format': 'qcow2',
      'image-size': String(statSync(image).size),
      'virtual-size': String(1024 ** 3),
      sha256: sha256(image),
      sha512: createHash('sha512').update(readFileSync(image)).digest('hex'),
      // No expect-sha256: nothing to compare with.
      reproducible: 'unchecked',
      'sha256sums-path': path.join(dir, 'workspace/arch-image-out/SHA256SUMS'),
      'manifest-path': path.join(dir, 'workspace/arch-image-out/fixture-ext4.manifest'),
      'sbom-spdx-path': path.join(dir, 'workspace/arch-image-out/fixture-ext4.spdx.json'),
      'sbom-cyclonedx-path': path.join(dir, 'workspace/arch-image-out/fixture-ext4.cdx.json'),
      'package-count': '6',
      snapshot: '',
      // No cache service outside Actions: the restore is skipped and reported as a miss.
      'cache-hit': 'false',
      'cache-key': expect.stringMatching(/^arch-image-pkg-v1-x86_64-/),
      'release-url': '',
      'release-assets': '',
      'image-name': 'fixture-ext4',
      // configure: false leaves nothing bootable: the gate is skipped
      'boot-test': 'skipped',
      'boot-seconds': '{}',
      // no OpenStack credentials: nothing published; no previous manifest; not a pull request
      'image-id': '',
      'image-ids': '',
      'image-url': '',
      'os-hash-value': '',
      'glance-reused': '',
      'package-diff': '',
      'comment-url': '',
      // attest: false
      'attestation-id': '',
      'attestation-url': '',
      'attestation-bundle-path': ''
    })
  })

  it('leaves only the image, SHA256SUMS, the manifest and the SBOMs in the output directory', () => {
    expect(readdirSync(path.join(dir, 'workspace/arch-image-out')).sort()).toEqual([
      'SHA256SUMS',
      'fixture-ext4.cdx.json',
      'fixture-ext4.manifest',
      'fixture-ext4.qcow2',
      'fixture-ext4.spdx.json'
    ])
    const sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], {
      cwd: path.join(dir, 'workspace/arch-image-out'),
      encoding: 'utf8'
    })
    expect(sums).toBe(
      'fixture-ext4.qcow2: OK\nfixture-ext4.manifest: OK\nfixture-ext4.spdx.json: OK\nfixture-ext4.cdx.json: OK\n'
    )
  })

  it('writes SBOMs that validate, list every package of the manifest and describe the image file', async () => {
    const spdxText = readFileSync(run.outputs['sbom-spdx-path'] as string, 'utf8')
    const cyclonedxText = readFileSync(run.outputs['sbom-cyclonedx-path'] as string, 'utf8')
    expect(spdxSchemaErrors(spdxText)).toEqual([])
    expect(await cyclonedxErrors(cyclonedxText)).toBeNull()
    const spdx = JSON.parse(spdxText) as SpdxDoc
    const cyclonedx = JSON.parse(cyclonedxText) as CycloneDxDoc
    ext4Sboms.spdx = spdx
    ext4Sboms.cyclonedx = cyclonedx

    const manifest = readFileSync(run.outputs['manifest-path'] as string, 'utf8')
    const listed = cyclonedx.components.map(c => `${c.name} ${c.version}\n`).join('')
    expect(listed).toBe(manifest)
    expect(spdx.packages.slice(1).map(p => p.name)).toEqual(cyclonedx.components.map(c => c.name))
    expect(cyclonedx.components.find(c => c.name === 'fixture-hello')?.purl).toBe(
      'pkg:alpm/arch/fixture-hello@1.0-1?arch=any'
    )
    const image = run.outputs['image-path'] as string
    expect(spdx.packages[0]?.checksums).toEqual([
      { algorithm: 'SHA256', checksumValue: sha256(image) },
      { algorithm: 'SHA512', checksumValue: run.outputs.sha512 }
    ])
    expect(cyclonedx.metadata.component.hashes).toEqual([
      { alg: 'SHA-256', content: sha256(image) },
      { alg: 'SHA-512', content: run.outputs.sha512 }
    ])
  })

  it('is a compressed qcow2 that qemu-img check finds clean', () => {
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', run.outputs['image-path'] as string], {
        encoding: 'utf8'
      })
    ) as { format: string; 'format-specific': { data: { 'compression-type': string } } }
    expect(info.format).toBe('qcow2')
    expect(info['format-specific'].data['compression-type']).toBe('zlib')
    expect(
      execFileSync('qemu-img', ['check', run.outputs['image-path'] as string], { encoding: 'utf8' })
    ).toMatch(/No errors were found on the image/)
  })

  it('holds a root that fstab names by UUID, the scriptlet ran in the chroot, and nothing of the seal list', async () => {
    await withImageRoot(run.outputs['image-path'] as string, (root, partitions) => {
      const uuid = (node: string) =>
        execFileSync('blkid', ['-p', '-s', 'UUID', '-o', 'value', node], { encoding: 'utf8' }).trim()
      const fstab = readFileSync(path.join(root, 'etc/fstab'), 'utf8')
      expect(fstab).toMatch(new RegExp(`^UUID=${uuid(partitions.root)}\\s+/\\s+ext4\\s`, 'm'))
      expect(fstab).toMatch(new RegExp(`^UUID=${uuid(partitions.esp)}\\s+/efi\\s+vfat\\s`, 'm'))

      expect(readFileSync(path.join(root, 'var/lib/fixture-service/scriptlet-ran'), 'utf8').trim()).toBe(
        'post_install 1.0-1'
      )
      expect(readFileSync(path.join(root, 'usr/bin/fixture-hello'), 'utf8')).toMatch(/^#!\/bin\/sh/)

      for (const file of SEALED)
        expect({ file, present: exists(path.join(root, file)) }).toEqual({ file, present: false })
      expect(readdirSync(path.join(root, 'var/cache/pacman/pkg'))).toEqual([])
      const machineId = statSync(path.join(root, 'etc/machine-id'))
      expect(machineId.size).toBe(0)
      expect(machineId.mode & 0o777).toBe(0o444)

      const installed = execFileSync(
        'pacman',
        ['--root', root, '--dbpath', path.join(root, 'var/lib/pacman'), '-Q'],
        {
          encoding: 'utf8'
        }
      )
      expect(readFileSync(run.outputs['manifest-path'] as string, 'utf8')).toBe(installed)
      expect(installed).toContain('fixture-hello 1.0-1\n')

      // The SBOMs made again from the image's own database, read back from the qcow2: the same bytes.
      const packages = readPackageRecords(root)
      const input: SbomInput = {
        subject: {
          imageName: 'fixture-ext4',
          fileName: 'fixture-ext4.qcow2',
          sha256: run.outputs.sha256 as string,
          sha512: run.outputs.sha512 as string
        },
        packages,
        servers: [fixtureMirror(repo)],
        created: sbomCreated(packages),
        toolVersion: TOOL_VERSION
      }
      expect(sbomText(spdxDocument(input))).toBe(
        readFileSync(run.outputs['sbom-spdx-path'] as string, 'utf8')
      )
      expect(sbomText(cyclonedxDocument(input))).toBe(
        readFileSync(run.outputs['sbom-cyclonedx-path'] as string, 'utf8')
      )
    })
  }, 60_000)

  it('kept the downloaded packages in the host cache, not in the image', () => {
    expect(readdirSync(path.join(dir, 'pkg-cache')).filter(f => f.endsWith('.pkg.tar.zst')).length).toBe(6)
  })

  it('writes a job summary with every stage and the image facts', () => {
    for (const stage of [
      'host',
      'resolve',
      'disk',
      'bootstrap',
      'fstab',
      'sbom',
      'seal',
      'detach',
      'convert',
      'sbom-write',
      'handover'
    ]) {
      expect(run.summary).toMatch(new RegExp(`<td>${stage}</td><td>[0-9.]+ s</td><td>ok</td>`))
    }
    // pacman-from host: no bootstrap tarball to obtain and verify.
    expect(run.summary).toContain('<td>bootstrap-tarball</td><td>-</td><td>skipped</td>')
    expect(run.summary).toContain(`<td>sha256</td><td>${run.outputs.sha256}</td>`)
    expect(run.summary).toContain('<td>packages</td><td>6</td>')
  })

  it('left nothing attached or mounted, and the post step has nothing to do', async () => {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(JSON.parse(run.state.teardown as string)).toEqual([])
    const post = await runPost({ dir, inputs: {} })
    expect(post.code).toBe(0)
    expect(post.output).toContain('post: nothing left to release')
    expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
  })
})

describe('btrfs build from an Archive snapshot served over HTTP', () => {
  let dir: string
  let run: ActionRun
  let server: http.Server
  const requests: string[] = []

  beforeAll(async () => {
    dir = scratchDir()
    // An Archive-shaped tree: repos/<date>/<repo>/os/<arch> and repos/last/lastsync.
    const archive = path.join(dir, 'archive')
    mkdirSync(path.join(archive, 'repos/2026/11/20'), { recursive: true })
    mkdirSync(path.join(archive, 'repos/last'), { recursive: true })
    for (const name of ['core', 'extra'])
      symlinkSync(path.join(repo, name), path.join(archive, 'repos/2026/11/20', name))
    const lastsync = Date.UTC(2026, 10, 20, 3, 14, 15) / 1000
    execFileSync('sh', ['-c', `echo ${lastsync} > ${archive}/repos/last/lastsync`])
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '')
      const file = path.join(archive, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
      if (!file.startsWith(archive) || !existsSync(file) || statSync(file).isDirectory()) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-length': statSync(file).size })
      res.end(readFileSync(file))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    run = await runAction({
      dir,
      inputs: {
        'image-family': 'nightly',
        snapshot: 'latest',
        'archive-url': `http://127.0.0.1:${port}`,
        'signature-level': 'Never',
        'pacman-from': 'host',
        configure: 'false',
        'base-packages': 'base',
        filesystem: 'btrfs',
        compression: 'zstd',
        'disk-size': '1G',
        'package-cache-dir': path.join(dir, 'pkg-cache')
      }
    })
  }, 300_000)

  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
    execFileSync('rm', ['-rf', dir])
  })

  it('resolves latest to the Archive date, names the image after it and reports it', () => {
    expect(run.output).not.toMatch(/::error::/)
    expect(run.code).toBe(0)
    expect(run.outputs.snapshot).toBe('2026/11/20')
    expect(run.outputs['image-path']).toBe(path.join(dir, 'workspace/arch-image-out/nightly-20261120.qcow2'))
    expect(requests).toContain('/repos/last/lastsync')
    expect(requests).toContain('/repos/2026/11/20/core/os/x86_64/core.db')
    expect(requests.filter(url => url.endsWith('.pkg.tar.zst'))).toHaveLength(5)
  })

  it('holds a zstd-compressed btrfs root that fstab names by UUID', async () => {
    const info = execFileSync('qemu-img', ['info', run.outputs['image-path'] as string], { encoding: 'utf8' })
    expect(info).toMatch(/compression type: zstd/)
    await withImageRoot(run.outputs['image-path'] as string, (root, partitions) => {
      const type = execFileSync('blkid', ['-p', '-s', 'TYPE', '-o', 'value', partitions.root], {
        encoding: 'utf8'
      })
      expect(type.trim()).toBe('btrfs')
      const uuid = execFileSync('blkid', ['-p', '-s', 'UUID', '-o', 'value', partitions.root], {
        encoding: 'utf8'
      })
      expect(readFileSync(path.join(root, 'etc/fstab'), 'utf8')).toMatch(
        new RegExp(`^UUID=${uuid.trim()}\\s+/\\s+btrfs\\s+rw,relatime,compress=zstd:1\\s+0 0$`, 'm')
      )
      expect(existsSync(path.join(root, 'var/lib/fixture-service/scriptlet-ran'))).toBe(true)
      expect(statSync(path.join(root, 'etc/machine-id')).size).toBe(0)
      expect(exists(path.join(root, 'etc/ssh/ssh_host_ed25519_key'))).toBe(false)
    })
  }, 60_000)

  it("gives each package the same SBOM entry as the ext4 build did: a package's entry depends on nothing else", () => {
    // Another image (name, filesystem, digest) from other servers, of the same fixture packages: the
    // documents differ only where they describe the image and its sources.
    const spdx = JSON.parse(readFileSync(run.outputs['sbom-spdx-path'] as string, 'utf8')) as SpdxDoc
    const cyclonedx = JSON.parse(
      readFileSync(run.outputs['sbom-cyclonedx-path'] as string, 'utf8')
    ) as CycloneDxDoc
    expect(cyclonedx.components.length).toBe(Number(run.outputs['package-count']))
    expect(cyclonedx.components.length).toBeGreaterThanOrEqual(5)
    const entry = (doc: SpdxDoc | undefined, name: string) =>
      JSON.stringify(doc?.packages.find(p => p.name === name))
    const component = (doc: CycloneDxDoc | undefined, name: string) =>
      JSON.stringify(doc?.components.find(c => c.name === name))
    for (const { name } of cyclonedx.components) {
      expect({ name, spdx: entry(spdx, name) }).toEqual({ name, spdx: entry(ext4Sboms.spdx, name) })
      expect({ name, cyclonedx: component(cyclonedx, name) }).toEqual({
        name,
        cyclonedx: component(ext4Sboms.cyclonedx, name)
      })
    }
  })

  it('left nothing attached or mounted', () => {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
  })
})

describe('bad inputs', () => {
  it('fail the step naming the input before any disk is touched', async () => {
    const dir = scratchDir()
    try {
      const run = await runAction({
        dir,
        inputs: {
          filesystem: 'zfs',
          'disk-size': '10M',
          mirror: 'ftp://x',
          'bootstrap-keyring': 'no-such-keyring.gpg',
          'package-cache-dir': path.join(dir, 'c')
        }
      })
      expect(run.code).toBe(1)
      expect(run.output).toContain('::error::invalid input:')
      expect(run.output).toContain('filesystem: "zfs" is not accepted; use one of ext4, btrfs')
      expect(run.output).toContain('disk-size: "10M" is out of range')
      expect(run.output).toContain('mirror: "ftp://x" has scheme ftp:')
      expect(run.output).toContain(
        'bootstrap-keyring: "no-such-keyring.gpg" does not exist; use a file of OpenPGP'
      )
      expect(run.output).not.toContain('losetup')
      expect(existsSync(path.join(dir, 'workspace/arch-image-out'))).toBe(false)
      expect(existsSync(path.join(dir, 'c'))).toBe(false)
      expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    } finally {
      execFileSync('rm', ['-rf', dir])
    }
  })
})

describe('CLI', () => {
  const cli = path.join(REPO_ROOT, 'dist/cli/index.js')
  const run = (args: string[], cwd?: string) =>
    spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' })

  it('lists every input as a flag, and the exit codes, in --help', () => {
    const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })
    for (const input of INPUTS) expect(help).toContain(`--${input.name} <value>`)
    for (const line of [
      '0    built',
      '1    the build failed',
      '2    bad input',
      '130  cancelled by SIGINT or SIGTERM'
    ])
      expect(help).toContain(line)
  })

  it('prints the package version with --version', () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string
    }
    const result = run(['--version'])
    expect([result.status, result.stdout, result.stderr]).toEqual([0, `${version}\n`, ''])
  })

  it('rejects an unknown command or flag with exit code 2', () => {
    expect(run(['deploy']).status).toBe(2)
    const unknown = run(['build', '--disk', '2G'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--disk'/)
    const bad = run(['build', '--format', 'vhd'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('format: "vhd" is not accepted; use one of qcow2, raw')
  })

  it('validates flags without touching a disk or creating a directory', () => {
    const dir = scratchDir()
    try {
      const flags = [
        ...['--mirror', fixtureMirror(repo), '--signature-level', 'Never', '--pacman-from', 'host'],
        ...['--output-dir', 'out', '--package-cache-dir', 'cache', '--image-name', 'checked']
      ]
      const valid = run(['validate', ...flags], dir)
      expect([valid.status, valid.stdout]).toEqual([0, 'arch-image: the flags are valid\n'])
      expect(valid.stderr).toBe('')
      const json = run(['validate', '--json', ...flags], dir)
      expect([json.status, JSON.parse(json.stdout)]).toEqual([0, { valid: true }])

      const invalid = run(['validate', ...flags, '--filesystem', 'zfs', '--disk-size', '10M'], dir)
      expect(invalid.status).toBe(2)
      expect(invalid.stdout).toBe('')
      expect(invalid.stderr).toContain('filesystem: "zfs" is not accepted; use one of ext4, btrfs')
      expect(invalid.stderr).toContain('disk-size: "10M" is out of range')
      const invalidJson = run(['validate', '--json', ...flags, '--filesystem', 'zfs'], dir)
      expect(invalidJson.status).toBe(2)
      expect(JSON.parse(invalidJson.stdout)).toEqual({
        valid: false,
        error: expect.stringContaining('filesystem: "zfs" is not accepted')
      })

      expect(readdirSync(dir)).toEqual([])
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    } finally {
      execFileSync('rm', ['-rf', dir])
    }
  })

  it('builds an image and prints the outputs as one JSON object, every log line on stderr', () => {
    const dir = scratchDir()
    try {
      const result = spawnSync(
        process.execPath,
        [
          cli,
          'build',
          '--json',
          '--mirror',
          fixtureMirror(repo),
          '--signature-level',
          'Never',
          '--configure',
          'false',
          '--pacman-from',
          'host',
          '--base-packages',
          'base',
          '--image-name',
          'from-cli',
          '--format',
          'raw',
          '--disk-size',
          '600M',
          '--output-dir',
          'out',
          '--package-cache-dir',
          'cache',
          '--sbom',
          'false'
        ],
        { cwd: dir, encoding: 'utf8', env: { ...process.env, TMPDIR: dir, SUDO_UID: '', SUDO_GID: '' } }
      )
      expect(result.stderr).toContain('warning: signature-level Never')
      expect(result.status).toBe(0)
      const image = path.join(dir, 'out/from-cli.raw')
      const outputs = JSON.parse(result.stdout) as Record<string, string>
      expect(result.stdout.trim().split('\n')).toHaveLength(1)
      expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['image-path', 'sha256', 'boot-test']))
      expect(outputs['image-path']).toBe(image)
      expect(outputs['image-format']).toBe('raw')
      expect(outputs.sha256).toBe(sha256(image))
      expect(statSync(image).size).toBe(600 * 1024 ** 2)
      // sbom: false writes none, and SHA256SUMS lists only the image and the manifest.
      expect(readdirSync(path.join(dir, 'out')).sort()).toEqual([
        'SHA256SUMS',
        'from-cli.manifest',
        'from-cli.raw'
      ])
      expect([outputs['sbom-spdx-path'], outputs['sbom-cyclonedx-path']]).toEqual(['', ''])
      expect(result.stderr).toMatch(/^sbom +- +skipped *$/m)
      expect(result.stderr).toMatch(/^==> bootstrap$/m)
      expect(result.stderr).toMatch(/^bootstrap +[0-9.]+ s +ok$/m)
      expect(result.stderr).not.toContain('image-path=')
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    } finally {
      execFileSync('rm', ['-rf', dir])
    }
  }, 120_000)

  it('stops on SIGTERM, releases what the build held (a second signal cannot cut that short) and exits 130', async () => {
    const dir = scratchDir()
    try {
      const child = spawn(
        process.execPath,
        [
          cli,
          'build',
          ...['--mirror', fixtureMirror(repo), '--signature-level', 'Never', '--configure', 'false'],
          ...['--pacman-from', 'host', '--base-packages', 'base', '--disk-size', '600M'],
          ...['--output-dir', 'out', '--package-cache-dir', 'cache']
        ],
        { cwd: dir, env: { ...process.env, TMPDIR: dir, SUDO_UID: '', SUDO_GID: '' } }
      )
      let stdout = ''
      let stderr = ''
      let signalled = false
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        // The disk is attached by now: there is something to release. The second signal (a second
        // Ctrl-C) must not cut the release short.
        if (!signalled && /^==> bootstrap$/m.test(stdout)) {
          signalled = true
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGINT'), 20)
        }
      })
      const code = await new Promise<number | null>(resolve => child.on('close', resolve))
      expect([code, stderr]).toEqual([
        130,
        expect.stringContaining('cancelled (SIGTERM); everything the build held was released')
      ])
      expect(stderr).toContain('received SIGINT again: still releasing what the build held')
      const out = path.join(dir, 'out')
      expect(existsSync(out) ? readdirSync(out).filter(file => /\.(qcow2|raw)$/.test(file)) : []).toEqual([])
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    } finally {
      execFileSync('rm', ['-rf', dir])
    }
  }, 120_000)
})
