import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ImageVerificationError } from '../../src/openstack/glance.js'
import {
  FAMILY_PROPERTY,
  SHA256_PROPERTY,
  publishImage,
  rotateImages,
  type PublishRequest
} from '../../src/openstack/publish.js'
import { FakeGlance } from '../../test/support/glance.js'
import { MemoryLog } from '../../test/support/log.js'

const CONTENT = 'abc'
function sha(algo: 'sha256' | 'sha512'): string {
  return createHash(algo).update(CONTENT).digest('hex')
}

let dir: string
let file: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-publish-'))
  file = path.join(dir, 'arch.qcow2')
  writeFileSync(file, CONTENT)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function request(glance: FakeGlance, extra: Partial<PublishRequest> = {}): PublishRequest {
  return {
    glance,
    log: new MemoryLog(),
    file,
    name: 'arch-cloud-1',
    family: 'arch-cloud',
    diskFormat: 'qcow2',
    properties: { os_distro: 'arch' },
    cleanupDelayMs: 1,
    ...extra
  }
}

describe('publishImage', () => {
  it('creates, registers, uploads, verifies and settles a new image with our properties', async () => {
    const glance = new FakeGlance()
    const events: string[] = []
    const result = await publishImage(
      request(glance, {
        onCreated: id => void events.push(`created ${id}`),
        onSettled: (id, kept) => void events.push(`settled ${id} ${kept}`)
      })
    )
    expect(result.reused).toBe(false)
    expect(result.image.status).toBe('active')
    expect(result.image[FAMILY_PROPERTY]).toBe('arch-cloud')
    expect(result.image[SHA256_PROPERTY]).toBe(sha('sha256'))
    expect(result.image.os_distro).toBe('arch')
    expect(result.image.visibility).toBe('private')
    expect(result.digest).toEqual({ size: 3, sha256: sha('sha256'), sha512: sha('sha512') })
    expect(events).toEqual([`created ${result.image.id}`, `settled ${result.image.id} true`])
  })

  it('reuses an active image of the same name, family and bytes without uploading', async () => {
    const glance = new FakeGlance()
    const first = await publishImage(request(glance))
    glance.calls = []
    const again = await publishImage(request(glance))
    expect(again.reused).toBe(true)
    expect(again.image.id).toBe(first.image.id)
    expect(glance.calls.some(call => call.startsWith('create') || call.startsWith('upload'))).toBe(false)
  })

  it('uploads again when the bytes differ, even under the same name', async () => {
    const glance = new FakeGlance()
    glance.add({ name: 'arch-cloud-1', [FAMILY_PROPERTY]: 'arch-cloud', os_hash_value: 'other', size: 3 })
    const result = await publishImage(request(glance))
    expect(result.reused).toBe(false)
    expect(glance.images.size).toBe(2)
  })

  it('deletes the new image when the upload fails, retrying while Glance is away, and rethrows', async () => {
    const glance = new FakeGlance()
    glance.failUpload = new Error('ECONNRESET')
    glance.deleteFailures = 2
    const settled: string[] = []
    const log = new MemoryLog()
    const lines = log.lines
    await expect(
      publishImage(request(glance, { log, onSettled: (id, kept) => void settled.push(`${id} ${kept}`) }))
    ).rejects.toThrow('ECONNRESET')
    expect(glance.images.size).toBe(0)
    expect(glance.calls.filter(call => call.startsWith('delete'))).toHaveLength(3)
    expect(settled).toEqual(['img-1 false'])
    expect(lines).toContain('Glance: deleted the unfinished image img-1')
  })

  it('deletes the new image when Glance holds other bytes than we sent', async () => {
    const glance = new FakeGlance()
    glance.corruptHash = true
    await expect(publishImage(request(glance))).rejects.toThrow(ImageVerificationError)
    expect(glance.images.size).toBe(0)
  })

  it('uses stage + glance-direct import when asked, and shares with projects', async () => {
    const glance = new FakeGlance()
    const result = await publishImage(
      request(glance, { uploadMethod: 'import', visibility: 'shared', shareWith: ['p-a', 'p-b'] })
    )
    const id = result.image.id
    expect(glance.calls.filter(call => !call.startsWith('list'))).toEqual([
      'create arch-cloud-1',
      `stage ${id}`,
      `upload ${id} arch.qcow2`,
      `import ${id} glance-direct`,
      `patch ${id} replace /os_hidden false`,
      `patch ${id} replace /visibility "shared"`,
      `share ${id} p-a`,
      `share ${id} p-b`
    ])
  })

  it('refuses bad requests before touching Glance', async () => {
    const glance = new FakeGlance()
    await expect(
      publishImage(
        request(glance, {
          shareWith: ['p'],
          keep: -1,
          family: 'has space',
          properties: { [FAMILY_PROPERTY]: 'x' }
        })
      )
    ).rejects.toThrow(
      "cannot publish: image family 'has space' must be 1-128 letters, digits, '.', '_' or '-'; keep must be a whole number >= 0, not -1; share-with needs visibility shared (it is private); property arch_image_family is set by arch-image"
    )
    expect(glance.calls).toEqual([])
  })

  it('refuses a file that no longer matches the digest the build recorded', async () => {
    const glance = new FakeGlance()
    await expect(publishImage(request(glance, { digest: { sha256: 'f'.repeat(64) } }))).rejects.toThrow(
      /does not match its recorded sha256/
    )
  })
})

describe('rotateImages', () => {
  function family(glance: FakeGlance) {
    const old = [1, 2, 3, 4, 5].map(n =>
      glance.add({ name: `arch-cloud-${n}`, [FAMILY_PROPERTY]: 'arch-cloud' })
    )
    const foreign = glance.add({ name: 'someone-else' })
    const pinned = glance.add({ name: 'arch-cloud-pinned', [FAMILY_PROPERTY]: 'arch-cloud', protected: true })
    const otherFamily = glance.add({ name: 'arch-cloud-x', [FAMILY_PROPERTY]: 'other' })
    const otherProject = glance.add({ name: 'theirs', [FAMILY_PROPERTY]: 'arch-cloud', owner: 'p-theirs' })
    const saving = glance.add({ name: 'in-flight', [FAMILY_PROPERTY]: 'arch-cloud', status: 'saving' })
    return { old, foreign, pinned, otherFamily, otherProject, saving }
  }

  it('keeps the N newest active family images and nothing else is touched', async () => {
    const glance = new FakeGlance()
    const { old, foreign, pinned, otherFamily, otherProject, saving } = family(glance)
    const current = glance.add({ name: 'arch-cloud-6', [FAMILY_PROPERTY]: 'arch-cloud' })
    const result = await rotateImages(glance, {
      family: 'arch-cloud',
      keep: 3,
      current,
      dryRun: false,
      log: new MemoryLog()
    })
    expect(result.kept.map(image => image.id)).toEqual([current.id, old[4]?.id, old[3]?.id])
    expect(result.deleted.map(image => image.id).sort()).toEqual(
      [old[0], old[1], old[2]].map(image => image?.id).sort()
    )
    expect(result.protectedSkipped.map(image => image.id)).toEqual([pinned.id])
    for (const survivor of [foreign, pinned, otherFamily, otherProject, saving, current]) {
      expect(glance.images.has(survivor.id)).toBe(true)
    }
  })

  it('always keeps the current image, and leaves images created after it alone (a concurrent run\'s)', async () => {
    const glance = new FakeGlance()
    const current = glance.add({ name: 'arch-cloud-0', [FAMILY_PROPERTY]: 'arch-cloud' })
    const newer = glance.add({ name: 'arch-cloud-9', [FAMILY_PROPERTY]: 'arch-cloud' })
    const result = await rotateImages(glance, {
      family: 'arch-cloud',
      keep: 1,
      current,
      dryRun: false,
      log: new MemoryLog()
    })
    expect(result.kept.map(image => image.id)).toEqual([current.id])
    expect(result.deleted).toEqual([])
    expect(glance.images.has(newer.id)).toBe(true)
  })

  it('breaks created_at ties by name, numerically', async () => {
    const glance = new FakeGlance()
    const a = glance.add({ name: 'arch-cloud-9', [FAMILY_PROPERTY]: 'f', created_at: '2026-01-01T00:00:00Z' })
    const b = glance.add({
      name: 'arch-cloud-10',
      [FAMILY_PROPERTY]: 'f',
      created_at: '2026-01-01T00:00:00Z'
    })
    const result = await rotateImages(glance, { family: 'f', keep: 1, dryRun: true, log: new MemoryLog() })
    expect(result.kept.map(image => image.id)).toEqual([b.id])
    expect(result.deleted.map(image => image.id)).toEqual([a.id])
  })

  it('only says what it would delete in a dry run', async () => {
    const glance = new FakeGlance()
    const { old } = family(glance)
    const log = new MemoryLog()
    const lines = log.lines
    const result = await rotateImages(glance, { family: 'arch-cloud', keep: 2, dryRun: true, log })
    expect(result.deleted).toHaveLength(3)
    expect(old.every(image => glance.images.has(image.id))).toBe(true)
    expect(lines.filter(line => line.startsWith('Rotation (dry run): would delete'))).toHaveLength(3)
    expect(glance.calls.some(call => call.startsWith('delete'))).toBe(false)
  })

  it('publishImage rotates only after the new image is active, and reports failures as warnings', async () => {
    const glance = new FakeGlance()
    family(glance)
    const result = await publishImage(request(glance, { keep: 2 }))
    expect(result.rotation?.kept[0]?.id).toBe(result.image.id)
    expect(result.rotation?.deleted).toHaveLength(4)
    const createdAt = glance.calls.findIndex(call => call.startsWith('upload'))
    const firstDelete = glance.calls.findIndex(call => call.startsWith('delete'))
    expect(firstDelete).toBeGreaterThan(createdAt)
  })
})
