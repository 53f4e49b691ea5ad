// The default cloud image (configure on: GRUB for BIOS and UEFI, initramfs, cloud-init) is
// reproducible: the run's shared stand-in image (test/boot.ts, built by the action and booted by the
// gate) and a second build through the CLI, later and elsewhere, with the same image inputs, are the
// same file. Publishing and the boot test read the image and do not change it, so the second build
// skips them. It costs one stand-in build.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { SHARED_IMAGE_MINUTES, sharedCloudImage, type CloudBuild } from './boot.js'
import { cliBuild, fixtureMirror, leaksUnder, scratchDir, standinRepo, type CliBuild } from './helpers.js'
import { startHarness, stopHarness } from './openstack/harness.js'

function sha256(file: string): string {
  return execFileSync('sha256sum', ['--', file], { encoding: 'utf8' }).split(' ')[0] as string
}

let shared: CloudBuild
let dir: string
let second: CliBuild

beforeAll(
  async () => {
    const h = await startHarness()
    shared = await sharedCloudImage(h)
    dir = scratchDir('arch-image-repro-cloud-')
    second = cliBuild(dir, {
      'image-name': shared.name,
      mirror: fixtureMirror(standinRepo()),
      'signature-level': 'Never',
      'pacman-from': 'host',
      cache: 'false',
      'package-cache-dir': path.join(dir, 'pkg-cache'),
      'output-dir': 'out',
      glance: 'false',
      'boot-test': 'false',
      'expect-sha256': shared.run.outputs.sha256 ?? ''
    })
  },
  (SHARED_IMAGE_MINUTES + 30) * 60_000
)

afterAll(async () => {
  if (dir) {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    execFileSync('rm', ['-rf', dir])
  }
  await stopHarness()
}, 120_000)

describe('the default cloud image built twice', () => {
  it('the shared image passed its boot gate (fresh machine-id and host keys per boot)', () => {
    expect(shared.run.code).toBe(0)
    expect(shared.run.outputs['boot-test']).toBe('passed')
  })

  it('the second build, through the CLI, reproduces it: the same qcow2, reproducible=true', () => {
    expect(second.stderr).toContain('reproducible: the image')
    expect(second.status).toBe(0)
    expect(second.outputs.reproducible).toBe('true')
    const image = path.join(dir, 'out', `${shared.name}.qcow2`)
    expect(sha256(image)).toBe(sha256(shared.run.outputs['image-path'] as string))
  })

  it('gives byte-identical SBOMs (SPDX and CycloneDX)', () => {
    for (const output of ['sbom-spdx-path', 'sbom-cyclonedx-path']) {
      const first = readFileSync(shared.run.outputs[output] as string)
      const again = readFileSync(second.outputs[output] as string)
      expect({ output, same: again.equals(first) }).toEqual({ output, same: true })
    }
  })
})
