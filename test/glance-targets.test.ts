// Publishing to many targets through dist/ against the real Keystone + Glance of the harness: one
// Keystone with two regions (each its own glance-api and store) and two projects. All or nothing (a
// region's Glance killed mid-upload leaves no new image anywhere), reuse on a rerun, and rotation the
// way operators do it: a stable name passed on, older images hidden, other repositories left alone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { resolveOpenStackSettings } from '../src/openstack/config.js'
import { connectGlance, type Image } from '../src/openstack/glance.js'
import {
  addImageRegion,
  cloudsEntry,
  expectNoSecrets,
  ExtraGlance,
  freePort,
  makeQcow2,
  memberEnv,
  openstackCli,
  recordingLog,
  removeImageRegion,
  secondEnv,
  sha512Of,
  startHarness,
  stopHarness,
  type HarnessEnv
} from './openstack/harness.js'
import { FakeGitHub } from './fakes/github.js'
import { killWhenState, runAction, runPost, scratchDir, type ActionRun } from './helpers.js'

let h: HarnessEnv
let dir: string
const texts: string[] = []
const suffix = `${process.pid}-${Date.now().toString(36)}`
const extras: ExtraGlance[] = []
const regionsMade: { region: string; endpoint: string }[] = []

/** member (project demo) as `lab`, second (project second) as `second`; regions come from the inputs. */
function cloudsYaml(): string {
  return ['clouds:', ...cloudsEntry(h, 'lab', h.member), ...cloudsEntry(h, 'second', h.second)].join('\n')
}

async function publish(
  inputs: Record<string, string>,
  options: {
    repository?: string
    env?: Record<string, string>
    onStart?: Parameters<typeof runAction>[0]['onStart']
  } = {}
): Promise<ActionRun> {
  const run = await runAction({
    dir: scratchDir('arch-image-targets-'),
    inputs: { mode: 'publish', 'clouds-yaml': cloudsYaml(), ...inputs },
    env: {
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REPOSITORY: options.repository ?? 'octo/images',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '4242',
      ...options.env
    },
    ...(options.onStart ? { onStart: options.onStart } : {})
  })
  texts.push(run.output, run.summary, readFileSync(run.files.output, 'utf8'))
  execFileSync('rm', ['-rf', path.dirname(run.files.output)])
  return run
}

/** Every image of a project in a region, hidden ones included, read with our client. */
async function imagesOf(env: Record<string, string>, family: string): Promise<Image[]> {
  const connection = await connectGlance(resolveOpenStackSettings(env), recordingLog())
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

/** The names a plain `openstack image list` shows (hidden images are not listed). */
async function listedNames(env: Record<string, string>, family: string): Promise<string[]> {
  const listed = JSON.parse(
    await openstackCli(['image', 'list', '--property', `arch_image_family=${family}`, '-f', 'json'], env)
  ) as { Name: string }[]
  return listed.map(image => image.Name).sort()
}

/** A region of the test's own whose image endpoint is `url` (a glance-api the test may kill). */
async function regionFor(url: string): Promise<string> {
  const region = `Kill-${suffix}`
  regionsMade.push({ region, endpoint: await addImageRegion(h, region, url) })
  return region
}

beforeAll(async () => {
  h = await startHarness()
  dir = scratchDir('arch-image-targets-')
}, 300_000)

afterAll(async () => {
  try {
    for (const extra of extras) await extra.kill('SIGTERM')
    for (const { region, endpoint } of regionsMade) {
      await removeImageRegion(h, region, endpoint).catch(() => undefined)
    }
    // every image this file made carries its suffix in its family
    for (const region of [h.region, h.region2]) {
      for (const env of [memberEnv(h), secondEnv(h)]) {
        const regional = { ...env, OS_REGION_NAME: region }
        const connection = await connectGlance(resolveOpenStackSettings(regional), recordingLog())
        try {
          for (const hidden of [false, true]) {
            const images = await connection.glance.listImages(
              hidden ? { properties: { os_hidden: 'true' } } : {}
            )
            for (const image of images.filter(candidate =>
              String(candidate.arch_image_family).includes(suffix)
            )) {
              await connection.glance.deleteImage(image.id).catch(() => false)
            }
          }
        } finally {
          connection.close()
        }
      }
    }
  } finally {
    await stopHarness()
    execFileSync('rm', ['-rf', dir])
  }
  expectNoSecrets(texts, [h.member.password, h.second.password, h.admin.password])
}, 180_000)

describe('two regions of two clouds', () => {
  const family = `multi-${suffix}`
  const name = `${family}-1`
  let qcow2: string
  let first: ActionRun
  const targets = (): Record<string, Record<string, string>> => ({
    'lab/RegionOne': memberEnv(h),
    'lab/RegionTwo': { ...memberEnv(h), OS_REGION_NAME: h.region2 },
    'second/RegionOne': secondEnv(h),
    'second/RegionTwo': secondEnv(h, h.region2)
  })

  beforeAll(async () => {
    qcow2 = await makeQcow2(dir, 'multi', 4)
  }, 120_000)

  it('publishes one verified, visible image to every target, each with the same os_hash_value', async () => {
    first = await publish({
      'image-path': qcow2,
      'image-name': name,
      'image-family': family,
      clouds: 'lab second',
      regions: `${h.region}\n${h.region2}`
    })
    expect(first.output).not.toContain('::error::')
    expect(first.code).toBe(0)
    const ids = JSON.parse(first.outputs['image-ids'] as string) as Record<string, string>
    expect(Object.keys(ids)).toEqual(Object.keys(targets()))
    expect(first.outputs['image-id']).toBe(ids['lab/RegionOne'])
    expect(new Set(Object.values(ids)).size).toBe(4)
    const sha512 = await sha512Of(qcow2)
    for (const [label, env] of Object.entries(targets())) {
      const images = await imagesOf(env, family)
      expect(images.map(image => image.id)).toEqual([ids[label]])
      expect(images[0]).toMatchObject({
        name,
        status: 'active',
        visibility: 'private',
        os_hidden: false,
        os_hash_algo: 'sha512',
        os_hash_value: sha512,
        arch_image_repository: 'octo/images'
      })
      expect(await listedNames(env, family)).toEqual([name])
    }
    // each was created hidden and promoted only after all four were verified
    const created = [...first.output.matchAll(/Glance (\S+): created image \S+ \(.*hidden until promoted\)/g)]
    expect(created.map(match => match[1]).sort()).toEqual(Object.keys(targets()).sort())
    const lastVerified = first.output.lastIndexOf('and size match what we sent')
    const firstPromoted = first.output.indexOf(' promoted (')
    expect(firstPromoted).toBeGreaterThan(lastVerified)
  }, 300_000)

  it('a rerun reuses the image in every target and uploads nothing', async () => {
    const again = await publish({
      'image-path': qcow2,
      'image-name': name,
      'image-family': family,
      clouds: 'lab second',
      regions: `${h.region} ${h.region2}`
    })
    expect(again.code).toBe(0)
    expect(again.outputs['image-ids']).toBe(first.outputs['image-ids'])
    expect(again.outputs['glance-reused']).toBe('true')
    expect(again.output.match(/already holds these bytes; not uploading again/g)).toHaveLength(4)
    expect(again.output).not.toMatch(/created image/)
  }, 300_000)
})

describe('a region whose Glance dies mid-upload', () => {
  it('leaves no new image in any target, the older images untouched, and names the region', async () => {
    // RegionTwo's database behind a glance-api of the test's own, in a region of the test's own
    const extra = new ExtraGlance(h, await freePort(), 'glance2')
    extras.push(extra)
    await extra.start()
    const region = await regionFor(extra.url)
    const family = `kill-${suffix}`
    const older = await publish({
      'image-path': await makeQcow2(dir, 'older', 2),
      'image-name': `${family}-old`,
      'image-family': family,
      clouds: 'lab',
      regions: `${h.region} ${region}`
    })
    expect(older.code).toBe(0)
    const olderIds = JSON.parse(older.outputs['image-ids'] as string) as Record<string, string>

    // zeros read fast and Glance writes them as they come: the store shows the upload under way. A
    // whole GiB: RegionOne's upload is surely still running when the other region dies (it is
    // cancelled then, so the size costs nothing)
    const big = path.join(dir, 'big.raw')
    writeFileSync(big, '')
    truncateSync(big, 1024 * 1024 * 1024)
    let killed = false
    const run = await publish(
      {
        'image-path': big,
        'image-name': `${family}-new`,
        'image-family': family,
        clouds: 'lab',
        regions: `${h.region} ${region}`,
        'upload-retries': '0',
        keep: '1'
      },
      {
        onStart: child => {
          const poll = setInterval(() => {
            const growing = readdirSync(extra.storeDir).some(
              file => statSync(path.join(extra.storeDir, file)).size > 32 * 1024 * 1024
            )
            if (!growing || killed) return
            killed = true
            clearInterval(poll)
            // killed mid-upload, back a moment later: the rollback deletes what it left
            void extra.kill().then(() => sleep(500).then(() => extra.start()))
          }, 20)
          child.on('close', () => clearInterval(poll))
        }
      }
    )
    expect(killed).toBe(true)
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1] ?? ''
    expect(error).toMatch(
      new RegExp(
        `^stage "publish" failed: publishing to Glance failed at lab/${region}: .*failed: (ECONNRESET|EPIPE|socket hang up)`
      )
    )
    expect(error).toContain('no target keeps the new image; older images are untouched')
    // RegionOne's upload was still running: stopped at once rather than finished and deleted later
    expect(run.output).toMatch(
      new RegExp(`Glance lab/${h.region}: cancelled: another target failed: stopped image \\S+; deleting it`)
    )
    expect(run.outputs['image-ids']).toBeUndefined()

    // nothing new in either target, hidden or not; the older images as they were
    const regionOne = await imagesOf(memberEnv(h), family)
    const killedRegion = await imagesOf({ ...memberEnv(h), OS_REGION_NAME: region }, family)
    for (const [images, id] of [
      [regionOne, olderIds[`lab/${h.region}`]],
      [killedRegion, olderIds[`lab/${region}`]]
    ] as const) {
      expect(images.map(image => image.id)).toEqual([id])
      expect(images[0]).toMatchObject({ name: `${family}-old`, status: 'active', os_hidden: false })
    }
  }, 300_000)
})

describe('main killed while uploading to two regions', () => {
  it('the post step deletes the unfinished image in each region with what main stored', async () => {
    const family = `post-${suffix}`
    const big = path.join(dir, 'post.raw')
    writeFileSync(big, '')
    truncateSync(big, 384 * 1024 * 1024)
    const runDir = scratchDir('arch-image-targets-')
    const options = {
      dir: runDir,
      inputs: {
        mode: 'publish',
        'image-path': big,
        'image-name': `${family}-1`,
        'image-family': family,
        'clouds-yaml': cloudsYaml(),
        clouds: 'lab',
        regions: `${h.region} ${h.region2}`
      },
      env: {}
    }
    // killed once both images are registered for deletion (both uploads have begun)
    const kill = killWhenState(runDir, state => (state.match(/"kind":"glance-image"/g) ?? []).length >= 2)
    try {
      const run = await runAction({ ...options, onStart: kill.onStart })
      texts.push(run.output)
      expect(kill.killed()).toBe(true)
      const stored = JSON.parse(run.state.teardown ?? '[]') as { kind: string; target?: string }[]
      expect(
        stored
          .filter(resource => resource.kind === 'glance-image')
          .map(resource => resource.target)
          .sort()
      ).toEqual([`lab/${h.region}`, `lab/${h.region2}`])
      const left = async (): Promise<number> =>
        (await imagesOf(memberEnv(h), family)).length +
        (await imagesOf({ ...memberEnv(h), OS_REGION_NAME: h.region2 }, family)).length
      expect(await left()).toBe(2)

      const post = await runPost(options)
      texts.push(post.output)
      expect(post.output).not.toContain('::error::')
      expect(post.code).toBe(0)
      expect(post.output).toContain(`in lab/${h.region2})`)
      expect(await left()).toBe(0)
    } finally {
      execFileSync('rm', ['-rf', runDir])
    }
  }, 300_000)
})

describe('rotation the way operators do it', () => {
  it('passes the stable name on over three runs, hides the older images, and never touches another repository', async () => {
    const family = `stable-${suffix}`
    const stable = `Arch Linux ${suffix}`
    const regions = `${h.region} ${h.region2}`
    const foreign = await publish(
      {
        'image-path': await makeQcow2(dir, 'foreign', 2),
        'image-name': `${family}-theirs`,
        'image-family': family,
        clouds: 'lab',
        regions
      },
      { repository: 'someone/else' }
    )
    expect(foreign.code).toBe(0)
    const runs: ActionRun[] = []
    for (const n of [1, 2, 3]) {
      const run = await publish({
        'image-path': await makeQcow2(dir, `stable-${n}`, 2),
        'image-name': `${family}-${n}`,
        'image-family': family,
        'stable-name': stable,
        clouds: 'lab',
        regions,
        keep: '2',
        rotate: 'hide'
      })
      expect(run.output).not.toContain('::error::')
      expect(run.code).toBe(0)
      runs.push(run)
      // created_at has one-second resolution
      await sleep(1100)
    }
    const idsOf = (run: ActionRun): Record<string, string> =>
      JSON.parse(run.outputs['image-ids'] as string) as Record<string, string>
    for (const [label, env] of [
      [`lab/${h.region}`, memberEnv(h)],
      [`lab/${h.region2}`, { ...memberEnv(h), OS_REGION_NAME: h.region2 }]
    ] as const) {
      const images = new Map((await imagesOf(env, family)).map(image => [image.id, image]))
      const [one, two, three] = runs.map(run => images.get(idsOf(run)[label] as string))
      const dated = (image: Image | undefined): string => `${stable} (${image?.created_at.slice(0, 10)})`
      expect(three).toMatchObject({ name: stable, os_hidden: false, status: 'active' })
      expect(two).toMatchObject({ name: dated(two), os_hidden: false, status: 'active' })
      // keep 2: the oldest is hidden, not deleted (instances using it can still be rebuilt)
      expect(one).toMatchObject({ name: dated(one), os_hidden: true, status: 'active' })
      const theirs = images.get(idsOf(foreign)[label] as string)
      expect(theirs).toMatchObject({
        name: `${family}-theirs`,
        os_hidden: false,
        arch_image_repository: 'someone/else'
      })
      expect(await listedNames(env, family)).toEqual([`${family}-theirs`, stable, dated(two)].sort())
    }
    expect(runs[2]?.summary).toMatch(/rotation hid/)
  }, 600_000)
})

describe('mode: cleanup in every target', () => {
  it("deletes the closed pull request's previews in each cloud and region, and nothing else", async () => {
    const family = `pr-${suffix}`
    const regions = `${h.region} ${h.region2}`
    const eventDir = scratchDir('arch-image-targets-')
    const event = (pr: number, action: string): Record<string, string> => {
      const file = path.join(eventDir, `event-${pr}-${action}.json`)
      const sha = String(pr).repeat(40).slice(0, 40)
      writeFileSync(file, JSON.stringify({ action, number: pr, pull_request: { number: pr, head: { sha } } }))
      return { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: file }
    }
    const previews: Record<number, Record<string, string>> = {}
    for (const pr of [7, 8]) {
      const run = await publish(
        {
          'image-path': await makeQcow2(dir, `pr-${pr}`, 2),
          'image-family': family,
          clouds: 'lab second',
          regions
        },
        { env: event(pr, 'synchronize') }
      )
      expect(run.code).toBe(0)
      previews[pr] = JSON.parse(run.outputs['image-ids'] as string) as Record<string, string>
    }
    const github = await FakeGitHub.start()
    try {
      const runDir = scratchDir('arch-image-targets-')
      const cleanup = await runAction({
        dir: runDir,
        inputs: {
          mode: 'cleanup',
          'image-family': family,
          'github-token': 'write-token',
          'clouds-yaml': cloudsYaml(),
          clouds: 'lab second',
          regions
        },
        env: { ...event(7, 'closed'), GITHUB_API_URL: github.apiUrl, GITHUB_REPOSITORY: github.repository }
      })
      texts.push(cleanup.output, cleanup.summary)
      expect(cleanup.output).not.toContain('::error::')
      expect(cleanup.code).toBe(0)
      const deleted = JSON.parse(cleanup.outputs.deleted as string) as {
        kind: string
        id: string
        target?: string
      }[]
      expect(Object.fromEntries(deleted.map(item => [item.target, item.id]))).toEqual(previews[7])
      expect(cleanup.summary).toContain(`(second/${h.region2}) | ${previews[7]?.[`second/${h.region2}`]} |`)
      execFileSync('rm', ['-rf', runDir])
    } finally {
      await github.close()
      execFileSync('rm', ['-rf', eventDir])
    }
    // pull request 8's previews stay in every target; none of 7's is left anywhere
    const targets: Record<string, Record<string, string>> = {
      [`lab/${h.region}`]: memberEnv(h),
      [`lab/${h.region2}`]: { ...memberEnv(h), OS_REGION_NAME: h.region2 },
      [`second/${h.region}`]: secondEnv(h),
      [`second/${h.region2}`]: secondEnv(h, h.region2)
    }
    for (const [label, env] of Object.entries(targets)) {
      const left = (await imagesOf(env, `${family}-pr7`)).length
      const kept = await imagesOf(env, `${family}-pr8`)
      expect([label, left, kept.map(image => image.id)]).toEqual([label, 0, [previews[8]?.[label]]])
    }
  }, 300_000)
})
