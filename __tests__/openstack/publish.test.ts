import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ImageVerificationError } from '../../src/openstack/glance.js'
import {
  FAMILY_PROPERTY,
  REPOSITORY_PROPERTY,
  SHA256_PROPERTY,
  STAGING_PREFIX,
  publishImage,
  publishToTargets,
  rotateImages,
  type PublishRequest,
  type TargetsRequest
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

  it("always keeps the current image, and leaves images created after it alone (a concurrent run's)", async () => {
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

describe('publishToTargets', () => {
  function many(targets: Record<string, FakeGlance>, extra: Partial<TargetsRequest> = {}): TargetsRequest {
    const base = request(new FakeGlance())
    return {
      log: base.log,
      file: base.file,
      name: base.name,
      family: base.family,
      diskFormat: base.diskFormat,
      properties: base.properties ?? {},
      cleanupDelayMs: 1,
      targets: Object.entries(targets).map(([label, glance]) => ({ label, glance })),
      ...extra
    }
  }
  const visible = (glance: FakeGlance): string[] =>
    [...glance.images.values()].filter(image => image.os_hidden !== true).map(image => image.id)

  it('creates hidden in every target and promotes only once every target verified, then settles', async () => {
    const a = new FakeGlance()
    const b = new FakeGlance()
    const events: string[] = []
    a.duringUpload = () => void events.push(`a uploading, b ${visible(b).length} visible`)
    const result = await publishToTargets(
      many(
        { 'lab/One': a, 'lab/Two': b },
        {
          visibility: 'shared',
          shareWith: ['p-x'],
          onCreated: (label, id) => void events.push(`created ${label} ${id}`),
          onSettled: (label, id, kept) => void events.push(`settled ${label} ${id} ${kept}`)
        }
      )
    )
    expect(result.targets.map(target => [target.label, target.image.status, target.image.os_hidden])).toEqual(
      [
        ['lab/One', 'active', false],
        ['lab/Two', 'active', false]
      ]
    )
    expect(a.calls).toContain('patch img-1 replace /os_hidden false')
    expect(a.images.get('img-1')?.visibility).toBe('shared')
    expect(a.members).toEqual(['p-x'])
    // nothing was visible anywhere while uploading; settled only after both were promoted
    expect([...events].sort()).toEqual([
      'a uploading, b 0 visible',
      'created lab/One img-1',
      'created lab/Two img-1',
      'settled lab/One img-1 true',
      'settled lab/Two img-1 true'
    ])
    expect(events.slice(-2)).toEqual(['settled lab/One img-1 true', 'settled lab/Two img-1 true'])
  })

  it('one target failing deletes the new image in every target, leaves older images alone and names the target', async () => {
    const a = new FakeGlance()
    const b = new FakeGlance()
    const older = b.add({ name: 'arch-cloud-0', [FAMILY_PROPERTY]: 'arch-cloud' })
    b.corruptHash = true
    const settled: string[] = []
    const failure = await publishToTargets(
      many(
        { 'lab/One': a, 'lab/Two': b },
        { onSettled: (label, id, kept) => void settled.push(`${label} ${id} ${kept}`) }
      )
    ).catch((error: unknown) => error as Error)
    expect(failure).toBeInstanceOf(Error)
    expect((failure as Error).message).toMatch(
      /^publishing to Glance failed at lab\/Two: image img-2: Glance's sha512 bad differs .* \(no target keeps the new image; older images are untouched\)$/
    )
    expect([...a.images.keys()]).toEqual([])
    expect([...b.images.keys()]).toEqual([older.id])
    expect(settled.sort()).toEqual(['lab/One img-1 false', 'lab/Two img-2 false'])
  })

  it('the first target to fail cancels the uploads still running elsewhere and deletes their images', async () => {
    const slow = new FakeGlance()
    slow.holdUploads = true
    const broken = new FakeGlance()
    broken.failUpload = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    // what the slow upload is doing each time the broken target deletes its image
    const seen: string[] = []
    const remove = broken.deleteImage.bind(broken)
    broken.deleteImage = async id => {
      seen.push(slow.calls.includes('cancelled img-1') ? 'cancelled' : 'running')
      return remove(id)
    }
    const log = new MemoryLog()
    const failure = await publishToTargets(
      many({ 'lab/Slow': slow, 'lab/Broken': broken }, { log, uploadRetries: 2, retryDelayMs: 1 })
    ).catch((error: unknown) => error as Error)
    // the broken target used its retries; the slow one was stopped, not retried, and is not a cause
    expect(broken.calls.filter(call => call.startsWith('create'))).toHaveLength(3)
    expect(slow.calls.filter(call => call.startsWith('create'))).toHaveLength(1)
    expect(slow.calls).toContain('cancelled img-1')
    // running through the retries; cancelled as soon as the last one failed, before its cleanup
    expect(seen).toEqual(['running', 'running', 'cancelled'])
    expect((failure as Error).message).toBe(
      'publishing to Glance failed at lab/Broken: socket hang up (no target keeps the new image; older images are untouched)'
    )
    expect(slow.images.size + broken.images.size).toBe(0)
    expect(log.lines.join('\n')).toContain(
      'Glance lab/Slow: cancelled: another target failed: stopped image img-1; deleting it'
    )
  })

  it('a promotion refused in one target takes the new image back out of every target', async () => {
    const a = new FakeGlance()
    const b = new FakeGlance()
    const patch = b.updateImage.bind(b)
    b.updateImage = async (id, operations) => {
      if (operations.some(operation => operation.path === '/visibility')) throw new Error('403 Forbidden')
      return patch(id, operations)
    }
    await expect(publishToTargets(many({ 'a/1': a, 'b/1': b }, { visibility: 'public' }))).rejects.toThrow(
      /^promoting the verified images failed at b\/1: 403 Forbidden/
    )
    expect(a.images.size + b.images.size).toBe(0)
  })

  it('where Glance has no os_hidden, says so and stages under a private name', async () => {
    const glance = new FakeGlance()
    glance.hiddenSupported = false
    const log = new MemoryLog()
    const result = await publishImage(request(glance, { log }))
    expect(glance.calls[1]).toBe(`create ${STAGING_PREFIX}arch-cloud-1`)
    expect(glance.calls).toContain('patch img-1 replace /name "arch-cloud-1"')
    expect(result.image.name).toBe('arch-cloud-1')
    expect(log.lines.join('\n')).toMatch(/no os_hidden \(image API < 2\.7\): the new image waits as private/)
  })

  it('retries an upload whose connection dropped on a fresh image, up to upload-retries', async () => {
    const glance = new FakeGlance()
    glance.failUpload = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    glance.failUploads = 2
    const settled: string[] = []
    const result = await publishImage(
      request(glance, {
        uploadRetries: 2,
        retryDelayMs: 1,
        onSettled: (id, kept) => void settled.push(`${id} ${kept}`)
      })
    )
    expect(result.image.id).toBe('img-3')
    expect([...glance.images.keys()]).toEqual(['img-3'])
    expect(settled).toEqual(['img-1 false', 'img-2 false', 'img-3 true'])
    const again = new FakeGlance()
    again.failUpload = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    await expect(publishImage(request(again, { uploadRetries: 1, retryDelayMs: 1 }))).rejects.toThrow(
      'socket hang up'
    )
    expect(again.calls.filter(call => call.startsWith('create'))).toHaveLength(2)
    // other failures are not retried
    const corrupt = new FakeGlance()
    corrupt.corruptHash = true
    await expect(publishImage(request(corrupt, { uploadRetries: 2 }))).rejects.toThrow(ImageVerificationError)
    expect(corrupt.calls.filter(call => call.startsWith('create'))).toHaveLength(1)
  })

  it('passes the stable name on: the previous holder gets its date', async () => {
    const glance = new FakeGlance()
    const repository = { [REPOSITORY_PROPERTY]: 'octo/images' }
    const holder = glance.add({
      name: 'Arch Linux',
      [FAMILY_PROPERTY]: 'arch-cloud',
      ...repository,
      created_at: '2025-11-30T10:00:00Z'
    })
    const theirs = glance.add({
      name: 'Arch Linux',
      [FAMILY_PROPERTY]: 'arch-cloud',
      [REPOSITORY_PROPERTY]: 'x/y'
    })
    const result = await publishImage(request(glance, { stableName: 'Arch Linux', properties: repository }))
    expect(result.image.name).toBe('Arch Linux')
    expect(result.renamed?.map(image => image.id)).toEqual([holder.id])
    expect(glance.images.get(holder.id)?.name).toBe('Arch Linux (2025-11-30)')
    expect(glance.images.get(theirs.id)?.name).toBe('Arch Linux')
  })
})

describe('rotation scope and action', () => {
  it("rotates only this repository's images of the family, and hides instead of deleting with rotate: hide", async () => {
    const glance = new FakeGlance()
    const ours = [1, 2, 3].map(n =>
      glance.add({
        name: `arch-cloud-${n}`,
        [FAMILY_PROPERTY]: 'arch-cloud',
        [REPOSITORY_PROPERTY]: 'octo/images'
      })
    )
    const theirs = glance.add({
      name: 'theirs',
      [FAMILY_PROPERTY]: 'arch-cloud',
      [REPOSITORY_PROPERTY]: 'x/y'
    })
    const unmarked = glance.add({ name: 'unmarked', [FAMILY_PROPERTY]: 'arch-cloud' })
    const result = await rotateImages(glance, {
      family: 'arch-cloud',
      keep: 1,
      current: ours[2],
      dryRun: false,
      action: 'hide',
      repository: 'octo/images',
      log: new MemoryLog()
    })
    expect(result.deleted.map(image => image.id)).toEqual([ours[1]?.id, ours[0]?.id])
    expect(glance.images.size).toBe(5)
    expect([ours[0], ours[1]].map(image => glance.images.get(image?.id as string)?.os_hidden)).toEqual([
      true,
      true
    ])
    for (const untouched of [ours[2], theirs, unmarked]) {
      expect(glance.images.get(untouched?.id as string)?.os_hidden).toBeUndefined()
    }
  })
})

describe('stores (multi-store Glance)', () => {
  const oneAndTwo = (a: FakeGlance, b: FakeGlance): TargetsRequest['targets'] => [
    { label: 'lab/One', glance: a },
    { label: 'lab/Two', glance: b }
  ]

  function toTargets(stores: string[]): Omit<TargetsRequest, 'targets'> {
    return {
      log: new MemoryLog(),
      file,
      name: 'arch-cloud-1',
      family: 'arch-cloud',
      diskFormat: 'qcow2',
      cleanupDelayMs: 1,
      stores
    }
  }

  it('stages, imports with glance-direct into every store, and checks the image is in all of them', async () => {
    const glance = new FakeGlance()
    glance.storesOffered = ['fast', 'slow', 'ceph']
    const log = new MemoryLog()
    const result = await publishImage(request(glance, { stores: ['fast', 'slow'], log }))
    const id = result.image.id
    expect(glance.calls.filter(call => !call.startsWith('list'))).toEqual([
      'stores',
      'create arch-cloud-1',
      `stage ${id}`,
      `upload ${id} arch.qcow2`,
      `import ${id} glance-direct fast,slow`,
      `patch ${id} replace /os_hidden false`
    ])
    expect(result.image.stores).toBe('fast,slow')
    expect(log.lines.join('\n')).toMatch(
      /importing image img-1 \(glance-direct into fast, slow, all must succeed\)/
    )
    expect(log.lines.join('\n')).toMatch(/image img-1 is active in fast, slow/)
  })

  it('an unknown store fails before any image is created, naming the input, the target and the offered stores', async () => {
    const a = new FakeGlance()
    a.storesOffered = ['fast', 'slow']
    const b = new FakeGlance()
    b.storesOffered = ['fast']
    const failure = await publishToTargets({
      ...toTargets(['fast', 'slow']),
      targets: oneAndTwo(a, b)
    }).catch((error: unknown) => error as Error)
    expect((failure as Error).message).toMatch(
      /^publishing to Glance failed at lab\/Two: stores: Glance lab\/Two has no store slow; it offers: fast/
    )
    expect(b.calls.some(call => call.startsWith('create'))).toBe(false)
    expect(a.images.size + b.images.size).toBe(0)
    const single = new FakeGlance()
    await expect(publishImage(request(single, { stores: ['fast'] }))).rejects.toThrow(
      /^stores: Glance cannot import into stores: this Glance has no multiple stores/
    )
  })

  it('a store that fails the import fails the publish and deletes the new image in every target', async () => {
    const a = new FakeGlance()
    const b = new FakeGlance()
    a.storesOffered = b.storesOffered = ['fast', 'slow']
    b.failingStore = 'slow'
    await expect(
      publishToTargets({
        ...toTargets(['fast', 'slow']),
        targets: oneAndTwo(a, b)
      })
    ).rejects.toThrow(
      /^publishing to Glance failed at lab\/Two: import failed in slow .*no target keeps the new image/
    )
    expect(a.images.size + b.images.size).toBe(0)
  })

  it('an image active but missing a store is an error; a reused image must be in every store', async () => {
    const glance = new FakeGlance()
    glance.storesOffered = ['fast', 'slow']
    const importing = glance.importImage.bind(glance)
    glance.importImage = async (id, method, options) => {
      await importing(id, method, options)
      ;(await glance.getImage(id)).stores = 'fast'
    }
    await expect(publishImage(request(glance, { stores: ['fast', 'slow'] }))).rejects.toThrow(
      /is active but not in store\(s\) slow \(its stores: fast\)/
    )
    expect(glance.images.size).toBe(0)

    // a Glance without copy-image: an earlier image missing a store is not reused
    const again = new FakeGlance()
    again.storesOffered = ['fast', 'slow']
    again.importMethodsOffered = ['glance-direct']
    const old = again.add({
      name: 'arch-cloud-1',
      size: CONTENT.length,
      os_hash_value: sha('sha512'),
      [FAMILY_PROPERTY]: 'arch-cloud',
      stores: 'fast'
    })
    const result = await publishImage(request(again, { stores: ['fast', 'slow'] }))
    expect(result.reused).toBe(false)
    expect(result.image.id).not.toBe(old.id)
    const reused = await publishImage(request(again, { stores: ['slow'] }))
    expect(reused.reused).toBe(true)
  })

  const earlier = (glance: FakeGlance): ReturnType<FakeGlance['add']> =>
    glance.add({
      name: 'arch-cloud-1',
      size: CONTENT.length,
      os_hash_value: sha('sha512'),
      [FAMILY_PROPERTY]: 'arch-cloud',
      stores: 'fast'
    })

  it('copies an earlier image into the stores it lacks (copy-image) instead of uploading; refused: uploads', async () => {
    const glance = new FakeGlance()
    glance.storesOffered = ['fast', 'slow']
    const old = earlier(glance)
    const events: string[] = []
    const log = new MemoryLog()
    const result = await publishToTargets({
      ...toTargets(['fast', 'slow']),
      log,
      targets: [{ label: 'lab/One', glance }],
      onCopying: (label, id, stores) => void events.push(`copying ${label} ${id} ${stores.join(',')}`),
      onCreated: (label, id) => void events.push(`created ${label} ${id}`),
      onSettled: (label, id, kept) => void events.push(`settled ${label} ${id} ${kept}`)
    })
    expect(result.targets[0]).toMatchObject({ reused: true, image: { id: old.id, stores: 'fast,slow' } })
    expect(glance.calls.filter(call => /^(create|upload|stage|import)/.test(call))).toEqual([
      `import ${old.id} copy-image slow`
    ])
    expect(events).toEqual([`copying lab/One ${old.id} slow`, `settled lab/One ${old.id} true`])
    expect(log.lines.join('\n')).toContain(
      `copying image ${old.id} (arch-cloud-1) into slow (copy-image, all must succeed)`
    )

    // Glance's default policy: copy-image for admins only; a member gets a new image
    const member = new FakeGlance()
    member.storesOffered = ['fast', 'slow']
    member.copyForbidden = true
    const theirs = earlier(member)
    const memberLog = new MemoryLog()
    const fresh = await publishImage(request(member, { stores: ['fast', 'slow'], log: memberLog }))
    expect(fresh).toMatchObject({ reused: false, image: { stores: 'fast,slow' } })
    expect(fresh.image.id).not.toBe(theirs.id)
    expect(memberLog.lines.join('\n')).toMatch(
      /copy-image of image img-1 into slow was refused \(Glance's default policy allows it to admins only\).*uploading a new image instead/
    )
  })

  it('a copy this run made is taken out of the store again when another target fails', async () => {
    const a = new FakeGlance()
    const b = new FakeGlance()
    a.storesOffered = b.storesOffered = ['fast', 'slow']
    const old = earlier(a)
    b.failUpload = new Error('disk full')
    const settled: string[] = []
    await expect(
      publishToTargets({
        ...toTargets(['fast', 'slow']),
        targets: oneAndTwo(a, b),
        onSettled: (label, id, kept) => void settled.push(`${label} ${id} ${kept}`)
      })
    ).rejects.toThrow(/^publishing to Glance failed at lab\/Two: disk full/)
    expect(a.calls).toContain(`remove ${old.id} from slow`)
    expect(a.images.get(old.id)).toMatchObject({ status: 'active', stores: 'fast' })
    expect(settled.sort()).toEqual([`lab/One ${old.id} false`, 'lab/Two img-1 false'])
  })
})
