// The publish stage with an in-memory Glance: while an image is unsettled it is on the teardown stack
// with the newest token (so a killed run's post step can delete it), forgotten once active, and
// deleted (and forgotten) when the upload fails.
import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { GlanceConnection } from '../../src/openstack/glance.js'
import type { Context } from '../../src/pipeline/context.js'
import type { GlanceImageResource } from '../../src/pipeline/teardown.js'
import { glanceFamily, provenanceProperties, publishStage } from '../../src/stages/glance.js'
import { hashFile } from '../../src/util/hash.js'
import { config } from '../../test/support/config.js'
import { testContext } from '../../test/support/context.js'
import { FakeGlance } from '../../test/support/glance.js'

const OS_ENV = {
  OS_AUTH_URL: 'https://keystone.example/v3',
  OS_USERNAME: 'builder',
  OS_PASSWORD: 'secret',
  OS_PROJECT_NAME: 'images',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default'
}

async function publishing() {
  const test = testContext({ glance: 'true' }, {}, { environment: OS_ENV })
  const { ctx, dir } = test
  const glance = new FakeGlance()
  let tokens = ['token-1']
  const listeners: ((tokens: readonly string[]) => void)[] = []
  const session = {
    currentToken: () => tokens.at(-1),
    onTokens: (listener: (tokens: readonly string[]) => void) => {
      listeners.push(listener)
      return () => listeners.splice(listeners.indexOf(listener), 1)
    }
  }
  const refreshToken = (): void => {
    tokens = [...tokens, `token-${tokens.length + 1}`]
    for (const listener of [...listeners]) listener(tokens)
  }
  ctx.openstack = {
    glance,
    session,
    http: {},
    close: () => {}
  } as unknown as GlanceConnection
  ctx.openstackTargets = [{ label: 'OS/default', connection: ctx.openstack }]
  const file = path.join(dir, 'test-image.qcow2')
  writeFileSync(file, 'qcow2 bytes')
  const digest = await hashFile(file)
  ctx.image = {
    path: file,
    format: 'qcow2',
    size: digest.size,
    virtualSize: 3 * 1024 ** 3,
    sha256: digest.sha256,
    sha512: digest.sha512,
    sha256sumsPath: '',
    manifestPath: ''
  }
  return {
    ...test,
    glance,
    refreshToken,
    listeners,
    ctx: ctx as Context & { image: NonNullable<Context['image']> }
  }
}

const stored = (ctx: Context): GlanceImageResource[] =>
  ctx.teardown.resources.filter(
    (resource): resource is GlanceImageResource => resource.kind === 'glance-image'
  )

describe('publish stage', () => {
  it('holds the image on the teardown stack with the newest token while uploading, forgets it once active', async () => {
    const { ctx, glance, refreshToken, listeners } = await publishing()
    const seen: GlanceImageResource[][] = []
    glance.duringUpload = () => {
      seen.push(structuredClone(stored(ctx)))
      refreshToken()
      seen.push(structuredClone(stored(ctx)))
    }
    await publishStage.run(ctx)
    expect(seen[0]).toEqual([
      {
        kind: 'glance-image',
        imageId: 'img-1',
        name: 'test-image',
        glance: {
          authUrl: 'https://keystone.example/v3',
          endpoint: 'https://glance.example/v2',
          token: 'token-1'
        }
      }
    ])
    expect(seen[1]?.[0]?.glance?.token).toBe('token-2')
    expect(stored(ctx)).toEqual([])
    expect(listeners).toEqual([])
    expect(ctx.glanceImage).toMatchObject({
      id: 'img-1',
      name: 'test-image',
      osHashAlgo: 'sha512',
      reused: false
    })
    expect(ctx.glanceImage?.osHashValue).toBe(ctx.image.sha512)
    const image = glance.images.get('img-1')
    expect(image).toMatchObject({
      status: 'active',
      min_disk: 3,
      disk_format: 'qcow2',
      visibility: 'private'
    })
    expect(image?.arch_image_family).toBe('arch-cloud')
  })

  it('a failed upload deletes the image and leaves nothing for teardown', async () => {
    const { ctx, glance } = await publishing()
    glance.failUpload = new Error('Glance answered 503')
    await expect(publishStage.run(ctx)).rejects.toThrow('Glance answered 503')
    expect(glance.calls.filter(call => !call.startsWith('list'))).toEqual([
      'create test-image',
      'delete img-1'
    ])
    expect(stored(ctx)).toEqual([])
    expect(ctx.glanceImage).toBeUndefined()
  })

  it('reuses an active image of the family that already holds these bytes: nothing uploaded', async () => {
    const { ctx, glance } = await publishing()
    await publishStage.run(ctx)
    const again = await publishing()
    again.ctx.openstack = ctx.openstack
    again.ctx.openstackTargets = ctx.openstackTargets
    again.ctx.image = { ...again.ctx.image, ...ctx.image }
    await publishStage.run(again.ctx)
    expect(again.ctx.glanceImage).toMatchObject({ id: 'img-1', reused: true })
    expect(glance.calls.filter((call: string) => call.startsWith('upload'))).toHaveLength(1)
  })
})

function configFor(pullRequest?: { number: number; headSha: string; action: string }) {
  return config({}, { cwd: '/w', pullRequest })
}

describe('Glance family and provenance', () => {
  it('a build rotates in its image family; a preview only with its own pull request', () => {
    expect(glanceFamily(configFor())).toBe('arch-cloud')
    expect(glanceFamily(configFor({ number: 12, headSha: 'ab'.repeat(20), action: 'opened' }))).toBe(
      'arch-cloud-pr12'
    )
  })

  it('records repository, commit, run, snapshot and the pull request', () => {
    const config = configFor({ number: 12, headSha: 'ab'.repeat(20), action: 'opened' })
    const ctx = { config, snapshotDate: '2026/11/24' } as unknown as Context
    expect(
      provenanceProperties(ctx, {
        GITHUB_REPOSITORY: 'octo/images',
        GITHUB_SHA: 'f'.repeat(40),
        GITHUB_SERVER_URL: 'https://github.example',
        GITHUB_RUN_ID: '99'
      })
    ).toEqual({
      arch_image_repository: 'octo/images',
      arch_image_commit: 'f'.repeat(40),
      arch_image_run_url: 'https://github.example/octo/images/actions/runs/99',
      arch_image_snapshot: '2026/11/24',
      arch_image_pr: '12',
      arch_image_pr_sha: 'ab'.repeat(20)
    })
  })

  it('leaves out what it does not know', () => {
    const ctx = { config: configFor() } as unknown as Context
    expect(provenanceProperties(ctx, {})).toEqual({})
  })
})
