// `stores` through dist/ against a real multi-store Glance: a glance-api of the test's own on RegionTwo's
// database with two file stores, fast (the default) and slow, in a region of the test's own. The image
// is imported into both (glance-direct, all_stores_must_succeed); an unknown store stops the run before
// any upload; a store that fails the import fails the publish and leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { resolveOpenStackSettings } from '../src/openstack/config.js'
import { connectGlance, type Image } from '../src/openstack/glance.js'
import { removeCopies } from '../src/openstack/stores.js'
import {
  addImageRegion,
  adminEnv,
  cloudsEntry,
  expectNoSecrets,
  ExtraGlance,
  freePort,
  makeQcow2,
  memberEnv,
  recordingLog,
  removeImageRegion,
  startHarness,
  stopHarness,
  type HarnessEnv
} from './openstack/harness.js'
import { killWhenState, runAction, runPost, scratchDir, type ActionRun } from './helpers.js'

let h: HarnessEnv
let dir: string
let extra: ExtraGlance | undefined
let region = ''
let endpointId = ''
const texts: string[] = []
const suffix = `${process.pid}-${Date.now().toString(36)}`

/** `lab`: the member (project demo); `ops`: the admin, whom Glance's default policy lets copy-image. */
function cloudsYaml(): string {
  return ['clouds:', ...cloudsEntry(h, 'lab', h.member), ...cloudsEntry(h, 'ops', h.admin)].join('\n')
}

async function publish(inputs: Record<string, string>): Promise<ActionRun> {
  const run = await runAction({
    dir: scratchDir('arch-image-stores-'),
    inputs: { mode: 'publish', 'clouds-yaml': cloudsYaml(), clouds: 'lab', regions: region, ...inputs },
    env: { GITHUB_REPOSITORY: 'octo/images' }
  })
  texts.push(run.output, run.summary, readFileSync(run.files.output, 'utf8'))
  execFileSync('rm', ['-rf', path.dirname(run.files.output)])
  return run
}

/** Every image of the family in the multi-store region, hidden ones included (the member's, or `env`'s). */
async function imagesOf(family: string, env = memberEnv(h)): Promise<Image[]> {
  const connection = await connectGlance(
    resolveOpenStackSettings({ ...env, OS_REGION_NAME: region }),
    recordingLog()
  )
  try {
    const visible = await connection.glance.listImages({ properties: { arch_image_family: family } })
    const hidden = await connection.glance.listImages({
      properties: { arch_image_family: family, os_hidden: 'true' }
    })
    return [...visible, ...hidden]
  } finally {
    connection.close()
  }
}

/** An image the admin (`ops`) published into the fast store only: what a copy-image starts from. */
async function publishedToFast(
  kind: string
): Promise<{ family: string; inputs: Record<string, string>; id: string }> {
  const family = `${kind}-${suffix}`
  const inputs = {
    'image-path': await makeQcow2(dir, kind, 2),
    'image-name': `${family}-1`,
    'image-family': family,
    clouds: 'ops'
  }
  const first = await publish({ ...inputs, stores: 'fast' })
  expect(errorOf(first)).toBe('')
  return { family, inputs, id: first.outputs['image-id'] as string }
}

const errorOf = (run: ActionRun): string => /::error::(.*)/.exec(run.output)?.[1] ?? ''

beforeAll(async () => {
  h = await startHarness()
  dir = scratchDir('arch-image-stores-')
  extra = new ExtraGlance(h, await freePort(), 'glance2', 'multistore')
  await extra.start()
  region = `Stores-${suffix}`
  endpointId = await addImageRegion(h, region, extra.url)
}, 300_000)

afterAll(async () => {
  try {
    // deleted through the multi-store Glance: only it knows the stores the data is in
    if (extra && region) {
      for (const family of ['both', 'unknown', 'failing', 'copy', 'refused', 'copykill'].map(
        kind => `${kind}-${suffix}`
      )) {
        for (const env of [memberEnv(h), adminEnv(h)]) {
          for (const image of await imagesOf(family, env).catch(() => [])) {
            const connection = await connectGlance(
              resolveOpenStackSettings({ ...env, OS_REGION_NAME: region }),
              recordingLog()
            )
            await connection.glance.deleteImage(image.id).catch(() => false)
            connection.close()
          }
        }
      }
    }
    await extra?.kill('SIGTERM')
    if (endpointId) await removeImageRegion(h, region, endpointId).catch(() => undefined)
    if (extra) rmSync(path.dirname(extra.storeDirOf('fast')), { recursive: true, force: true })
  } finally {
    await stopHarness()
    execFileSync('rm', ['-rf', dir])
  }
  expectNoSecrets(texts, [h.member.password, h.admin.password])
}, 180_000)

describe('stores: a multi-store Glance', () => {
  it('imports the image into every store named: active, its stores property lists both, the file in both', async () => {
    const family = `both-${suffix}`
    const run = await publish({
      'image-path': await makeQcow2(dir, 'both', 2),
      'image-name': `${family}-1`,
      'image-family': family,
      stores: 'fast slow'
    })
    expect(errorOf(run)).toBe('')
    expect(run.code).toBe(0)
    expect(run.output).toContain(`Glance lab/${region}: offers the stores fast, slow`)
    expect(run.output).toMatch(/importing image \S+ \(glance-direct into fast, slow, all must succeed\)/)
    const id = run.outputs['image-id'] as string
    const [image] = await imagesOf(family)
    expect(image).toMatchObject({ id, status: 'active', os_hidden: false })
    expect(String(image?.stores).split(',').sort()).toEqual(['fast', 'slow'])
    for (const store of ['fast', 'slow'] as const) {
      const file = path.join((extra as ExtraGlance).storeDirOf(store), id)
      expect(statSync(file).size).toBe(image?.size)
    }
  }, 240_000)

  it('an unknown store stops the run before any upload, naming the input, the target and the offered stores', async () => {
    const family = `unknown-${suffix}`
    const run = await publish({
      'image-path': await makeQcow2(dir, 'unknown', 1),
      'image-name': `${family}-1`,
      'image-family': family,
      stores: 'fast tape'
    })
    expect(run.code).toBe(1)
    expect(errorOf(run)).toMatch(
      new RegExp(
        `^stage "openstack" failed: stores: Glance lab/${region} has no store tape; it offers: fast, slow`
      )
    )
    expect(run.output).not.toMatch(/created image|staging/)
    expect(await imagesOf(family)).toEqual([])
  }, 240_000)

  it('a store that fails the import fails the publish, and nothing is left in Glance or in either store', async () => {
    const family = `failing-${suffix}`
    const ms = extra as ExtraGlance
    const before = readdirSync(ms.storeDirOf('fast'))
    // Glance checked its store directories at start: without slow's, writing into slow fails
    rmSync(ms.storeDirOf('slow'), { recursive: true, force: true })
    let run: ActionRun
    try {
      run = await publish({
        'image-path': await makeQcow2(dir, 'failing', 2),
        'image-name': `${family}-1`,
        'image-family': family,
        stores: 'fast slow',
        'upload-retries': '0'
      })
    } finally {
      mkdirSync(ms.storeDirOf('slow'), { recursive: true })
    }
    expect(run.code).toBe(1)
    expect(errorOf(run)).toMatch(
      /^stage "publish" failed: the import of image \S+ failed in store\(s\) slow \(os_glance_failed_import\)/
    )
    expect(run.outputs['image-id']).toBeUndefined()
    expect(await imagesOf(family)).toEqual([])
    expect(readdirSync(ms.storeDirOf('fast'))).toEqual(before)
    expect(existsSync(ms.storeDirOf('slow'))).toBe(true)
  }, 240_000)

  it('a rerun naming one more store copies the earlier image into it (copy-image, as an admin): no upload', async () => {
    const { family, inputs, id } = await publishedToFast('copy')
    const ms = extra as ExtraGlance
    expect(existsSync(path.join(ms.storeDirOf('slow'), id))).toBe(false)

    const again = await publish({ ...inputs, stores: 'fast slow' })
    expect(errorOf(again)).toBe('')
    expect(again.outputs['image-id']).toBe(id)
    expect(again.outputs['glance-reused']).toBe('true')
    expect(again.output).toContain(
      `copying image ${id} (${family}-1) into slow (copy-image, all must succeed)`
    )
    expect(again.output).not.toMatch(/created image|staging/)
    const [image] = await imagesOf(family, adminEnv(h))
    expect(String(image?.stores).split(',').sort()).toEqual(['fast', 'slow'])
    expect(statSync(path.join(ms.storeDirOf('slow'), id)).size).toBe(image?.size)

    // what a failure elsewhere (or the post step) does with such a copy, against the real Glance
    const connection = await connectGlance(
      resolveOpenStackSettings({ ...adminEnv(h), OS_REGION_NAME: region }),
      recordingLog()
    )
    try {
      expect(await removeCopies(connection.glance, id, ['slow'], recordingLog())).toBe(true)
      expect(await connection.glance.getImage(id)).toMatchObject({ status: 'active', stores: 'fast' })
    } finally {
      connection.close()
    }
    expect(existsSync(path.join(ms.storeDirOf('slow'), id))).toBe(false)
    expect(statSync(path.join(ms.storeDirOf('fast'), id)).size).toBe(image?.size)
  }, 240_000)

  it('for a member Glance refuses copy-image (its default policy): a new image is uploaded into every store', async () => {
    const family = `refused-${suffix}`
    const inputs = {
      'image-path': await makeQcow2(dir, 'refused', 2),
      'image-name': `${family}-1`,
      'image-family': family
    }
    const first = await publish({ ...inputs, stores: 'fast' })
    expect(errorOf(first)).toBe('')
    const again = await publish({ ...inputs, stores: 'fast slow' })
    expect(errorOf(again)).toBe('')
    expect(again.output).toMatch(
      /copy-image of image \S+ into slow was refused \(Glance's default policy allows it to admins only\).*403/
    )
    const fresh = again.outputs['image-id'] as string
    expect(fresh).not.toBe(first.outputs['image-id'])
    const images = new Map((await imagesOf(family)).map(image => [image.id, image]))
    expect(String(images.get(fresh)?.stores).split(',').sort()).toEqual(['fast', 'slow'])
    expect(images.get(first.outputs['image-id'] as string)?.stores).toBe('fast')
  }, 240_000)

  it('main killed while copying: the post step takes the copy out again and leaves the image', async () => {
    const { family, inputs, id } = await publishedToFast('copykill')
    const ms = extra as ExtraGlance
    const runDir = scratchDir('arch-image-stores-')
    const options = {
      dir: runDir,
      inputs: {
        mode: 'publish',
        'clouds-yaml': cloudsYaml(),
        regions: region,
        ...inputs,
        stores: 'fast slow'
      },
      env: { GITHUB_REPOSITORY: 'octo/images' }
    }
    // killed the moment the copy is registered for undoing (it is asked for right after)
    const kill = killWhenState(runDir, state => state.includes('"stores":["slow"]'))
    try {
      const run = await runAction({ ...options, onStart: kill.onStart })
      texts.push(run.output)
      expect(kill.killed()).toBe(true)
      const stored = JSON.parse(run.state.teardown ?? '[]') as {
        kind: string
        imageId?: string
        stores?: string[]
      }[]
      expect(stored.filter(resource => resource.kind === 'glance-image')).toEqual([
        expect.objectContaining({ imageId: id, stores: ['slow'] })
      ])

      const post = await runPost(options)
      texts.push(post.output)
      expect(post.output).not.toContain('::error::')
      expect(post.code).toBe(0)
      expect(post.output).toContain(`take Glance image ${id} (${family}-1) out of store(s) slow again`)
    } finally {
      execFileSync('rm', ['-rf', runDir])
    }
    // the image was there before the run: it stays, in the store it was in
    const [image] = await imagesOf(family, adminEnv(h))
    expect(image).toMatchObject({ id, status: 'active', stores: 'fast' })
    expect(existsSync(path.join(ms.storeDirOf('slow'), id))).toBe(false)
  }, 240_000)
})
