// Publishing to a real Glance: a real qcow2 read back by our client and by the openstack CLI, the
// glance-direct import flow, idempotent reruns, sharing, rotation, and Glance dying mid-upload.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveOpenStackSettings } from '../../src/openstack/config.js'
import { connectGlance, type Glance, type GlanceConnection, type Image } from '../../src/openstack/glance.js'
import type { UploadProgress } from '../../src/openstack/http.js'
import {
  FAMILY_PROPERTY,
  archImageProperties,
  deleteUnsettledImage,
  publishImage
} from '../../src/openstack/publish.js'
import {
  ExtraGlance,
  appCredentialEnv,
  expectNoSecrets,
  freePort,
  makeQcow2,
  memberEnv,
  openstackCli,
  recordingLog,
  sha512Of,
  startHarness,
  stopHarness,
  type HarnessEnv,
  type RecordingLog
} from './harness.js'

let h: HarnessEnv
let dir: string
let member: GlanceConnection
let glance: Glance
const recorders: RecordingLog[] = []
const secrets: string[] = []
const extras: ExtraGlance[] = []
/** Every image a test made, deleted (unprotected first) at the end. */
const made = new Set<string>()

function log(): RecordingLog {
  const recorder = recordingLog()
  recorders.push(recorder)
  return recorder
}

beforeAll(async () => {
  h = await startHarness()
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-publish-'))
  member = await connectGlance(resolveOpenStackSettings(memberEnv(h)), log())
  glance = member.glance
  secrets.push(h.member.password, h.admin.password, h.appCredential.secret, await member.session.token())
}, 180_000)

afterAll(async () => {
  for (const extra of extras) await extra.kill('SIGTERM')
  try {
    for (const id of made) {
      const image = await glance.findImage(id)
      if (!image) continue
      if (image.protected) await glance.updateImage(id, [{ op: 'replace', path: '/protected', value: false }])
      await glance.deleteImage(id)
    }
  } finally {
    member?.close()
    rmSync(dir, { recursive: true, force: true })
    await stopHarness()
  }
}, 120_000)

describe('publishImage against Glance', () => {
  let qcow2: string
  let first: Image

  it('uploads a real qcow2 that our client and the openstack CLI read back as published', async () => {
    qcow2 = await makeQcow2(dir, 'arch-cloud')
    const progress: UploadProgress[] = []
    const created: string[] = []
    const settled: string[] = []
    const result = await publishImage({
      glance,
      log: log(),
      file: qcow2,
      name: 'arch-cloud-it-1',
      family: 'it-direct',
      diskFormat: 'qcow2',
      visibility: 'private',
      minDisk: 1,
      minRam: 256,
      tags: ['arch', 'nightly'],
      properties: { ...archImageProperties({ firmware: 'uefi' }), arch_image_commit: 'abc123' },
      onCreated: id => void created.push(id),
      onSettled: (id, kept) => void settled.push(`${id} ${kept}`),
      onProgress: p => void progress.push(p),
      progressIntervalMs: 10
    })
    first = result.image
    made.add(first.id)
    expect(result.reused).toBe(false)
    expect(created).toEqual([first.id])
    expect(settled).toEqual([`${first.id} true`])
    expect(progress[progress.length - 1]).toMatchObject({ percent: 100 })

    const size = statSync(qcow2).size
    const sha512 = await sha512Of(qcow2)
    const ours = await glance.getImage(first.id)
    expect(ours).toMatchObject({
      status: 'active',
      name: 'arch-cloud-it-1',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
      min_disk: 1,
      min_ram: 256,
      size,
      os_hash_algo: 'sha512',
      os_hash_value: sha512,
      os_distro: 'arch',
      hw_firmware_type: 'uefi',
      arch_image_commit: 'abc123',
      [FAMILY_PROPERTY]: 'it-direct',
      arch_image_sha256: result.digest.sha256
    })
    expect([...ours.tags].sort()).toEqual(['arch', 'nightly'])

    const cli = JSON.parse(await openstackCli(['image', 'show', '-f', 'json', first.id], memberEnv(h))) as {
      status: string
      size: number
      visibility: string
      tags: string[]
      properties: Record<string, unknown>
    }
    expect(cli.status).toBe('active')
    expect(cli.size).toBe(size)
    expect(cli.visibility).toBe('private')
    expect([...cli.tags].sort()).toEqual(['arch', 'nightly'])
    expect(cli.properties).toMatchObject({
      os_hash_algo: 'sha512',
      os_hash_value: sha512,
      os_distro: 'arch',
      os_type: 'linux',
      hw_qemu_guest_agent: 'yes',
      [FAMILY_PROPERTY]: 'it-direct'
    })
  }, 120_000)

  it('reuses the image on a rerun with the same name and bytes (no upload)', async () => {
    const recorder = log()
    const created: string[] = []
    const again = await publishImage({
      glance,
      log: recorder,
      file: qcow2,
      name: 'arch-cloud-it-1',
      family: 'it-direct',
      diskFormat: 'qcow2',
      onCreated: id => void created.push(id)
    })
    expect(again.reused).toBe(true)
    expect(again.image.id).toBe(first.id)
    expect(created).toEqual([])
    expect(recorder.lines.join('\n')).toContain('already holds these bytes; not uploading again')
  })

  it('imports with glance-direct (stage + import) using an application credential, and shares', async () => {
    const connection = await connectGlance(resolveOpenStackSettings(appCredentialEnv(h)), log())
    secrets.push(await connection.session.token())
    try {
      const file = await makeQcow2(dir, 'imported', 4)
      const result = await publishImage({
        glance: connection.glance,
        log: log(),
        file,
        name: 'arch-cloud-it-import',
        family: 'it-import',
        diskFormat: 'qcow2',
        uploadMethod: 'import',
        visibility: 'shared',
        shareWith: [h.otherProjectId],
        activeTimeoutMs: 120_000
      })
      made.add(result.image.id)
      expect(result.image.status).toBe('active')
      expect(result.image.os_hash_value).toBe(await sha512Of(file))
      expect(result.image.visibility).toBe('shared')
      expect(await glance.listMembers(result.image.id)).toEqual([
        expect.objectContaining({ member_id: h.otherProjectId, status: 'pending' })
      ])
    } finally {
      connection.close()
    }
  }, 180_000)

  it('rotates a family of 6 down to keep, sparing foreign and protected images', async () => {
    const file = path.join(dir, 'tiny.raw')
    const ids: string[] = []
    for (let n = 1; n <= 5; n++) {
      writeFileSync(file, `image ${n}\n`)
      const result = await publishImage({
        glance,
        log: log(),
        file,
        name: `arch-cloud-rot-${n}`,
        family: 'it-rotate',
        diskFormat: 'raw'
      })
      ids.push(result.image.id)
      made.add(result.image.id)
    }
    // a foreign image (no family property) and a protected one of the family
    const foreign = await glance.createImage({ name: 'arch-cloud-rot-foreign', diskFormat: 'raw' })
    made.add(foreign.id)
    writeFileSync(file, 'foreign\n')
    await glance.uploadFile(foreign.id, file)
    expect((await glance.getImage(foreign.id)).status).toBe('active')
    writeFileSync(file, 'pinned\n')
    const pinned = await publishImage({
      glance,
      log: log(),
      file,
      name: 'arch-cloud-rot-pinned',
      family: 'it-rotate',
      diskFormat: 'raw',
      protected: true
    })
    made.add(pinned.image.id)

    // the sixth: a dry run first, then the real rotation
    writeFileSync(file, 'image 6\n')
    const dry = await publishImage({
      glance,
      log: log(),
      file,
      name: 'arch-cloud-rot-6',
      family: 'it-rotate',
      diskFormat: 'raw',
      keep: 2,
      rotateDryRun: true
    })
    made.add(dry.image.id)
    expect(dry.rotation?.dryRun).toBe(true)
    expect(dry.rotation?.deleted.map(image => image.id).sort()).toEqual(ids.slice(0, 4).sort())
    for (const id of ids) expect(await glance.findImage(id)).toBeDefined()

    const real = await publishImage({
      glance,
      log: log(),
      file,
      name: 'arch-cloud-rot-6',
      family: 'it-rotate',
      diskFormat: 'raw',
      keep: 2
    })
    expect(real.reused).toBe(true)
    expect(real.image.id).toBe(dry.image.id)
    expect(real.rotation?.kept.map(image => image.id)).toEqual([dry.image.id, ids[4]])
    expect(real.rotation?.protectedSkipped.map(image => image.id)).toEqual([pinned.image.id])

    const left = await glance.listImages({ properties: { [FAMILY_PROPERTY]: 'it-rotate' } })
    expect(left.map(image => image.id).sort()).toEqual([dry.image.id, ids[4], pinned.image.id].sort())
    expect(await glance.findImage(foreign.id)).toBeDefined()
  }, 180_000)

  it('deletes the image when Glance dies mid-upload and comes back', async () => {
    const extra = new ExtraGlance(h, await freePort())
    extras.push(extra)
    await extra.start()
    const connection = await connectGlance(
      resolveOpenStackSettings(memberEnv(h), { imageEndpoint: extra.url }),
      log()
    )
    const file = path.join(dir, 'big.raw')
    writeFileSync(file, '')
    truncateSync(file, 768 * 1024 * 1024)
    const recorder = log()
    const created: string[] = []
    const settled: string[] = []
    let killed = false
    try {
      const error = await publishImage({
        glance: connection.glance,
        log: recorder,
        file,
        name: 'arch-cloud-it-crash',
        family: 'it-crash',
        diskFormat: 'raw',
        digest: { size: 768 * 1024 * 1024 },
        onCreated: id => void created.push(id),
        onSettled: (id, kept) => void settled.push(`${id} ${kept}`),
        progressIntervalMs: 50,
        onProgress: progress => {
          if (killed || progress.bytes < 128 * 1024 * 1024) return
          killed = true
          // killed mid-upload, restarted at once; the cleanup retries until it answers again
          void extra.kill().then(() => extra.start())
        },
        cleanupAttempts: 30,
        cleanupDelayMs: 1000
      }).catch((caught: unknown) => caught as Error)
      expect(killed).toBe(true)
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).message).toMatch(
        /PUT http:\/\/127\.0\.0\.1:\d+\/v2\/images\/.*\/file failed: (ECONNRESET|EPIPE)/
      )
    } finally {
      connection.close()
    }
    expect(created).toHaveLength(1)
    made.add(created[0] as string)
    expect(settled).toEqual([`${created[0]} false`])
    expect(await glance.findImage(created[0] as string)).toBeUndefined()
    expect(await glance.listImages({ name: 'arch-cloud-it-crash' })).toEqual([])
    expect(recorder.lines.join('\n')).toContain(`Glance: deleted the unfinished image ${created[0]}`)
  }, 180_000)

  it('lets a post step delete an image a killed run left behind', async () => {
    const leftover = await glance.createImage({ name: 'arch-cloud-it-leftover', diskFormat: 'raw' })
    made.add(leftover.id)
    const settings = resolveOpenStackSettings(memberEnv(h))
    const recorder = log()
    expect(await deleteUnsettledImage(settings, { imageId: leftover.id }, recorder)).toBe(true)
    expect(await glance.findImage(leftover.id)).toBeUndefined()
    expect(await deleteUnsettledImage(settings, { imageId: leftover.id }, recorder)).toBe(true)
    expect(recorder.lines).toContain(`Glance: image ${leftover.id} is already gone`)
  })

  it('never wrote a password, credential secret or token into the log', () => {
    const lines = recorders.flatMap(recorder => recorder.lines)
    expect(lines.length).toBeGreaterThan(20)
    expectNoSecrets(lines, secrets)
  })
})
