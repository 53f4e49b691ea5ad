// openstack: authenticate and find Glance before any disk is touched (wrong credentials fail in
// seconds, not after the build). inspect: `mode: publish` reads an existing image file. publish: the
// image into Glance, verified by hash, registered for deletion until it is settled, then rotation.
import { statSync } from 'node:fs'
import { describeAuth } from '../openstack/config.js'
import { connectGlance, type Image } from '../openstack/glance.js'
import { hashFile } from '../util/hash.js'
import { keystoneAccess } from '../openstack/keystone.js'
import { archImageProperties, publishImage } from '../openstack/publish.js'
import { previewTagPrefix, publishedImageName, type Config } from '../config/config.js'
import type { Context } from '../pipeline/context.js'
import { formatBytes } from '../pipeline/report.js'
import type { GlanceImageResource, Resource } from '../pipeline/teardown.js'
import type { Stage } from '../pipeline/runner.js'

const GiB = 1024 * 1024 * 1024

export const openstackStage: Stage = {
  name: 'openstack',
  enabled: ctx => ctx.config.glance !== undefined,
  async run(ctx) {
    const glance = ctx.config.glance
    if (!glance) throw new Error('BUG: openstack stage without Glance settings')
    ctx.log.info(`Keystone: ${describeAuth(glance.settings)}`)
    // Every token is a resource: revoked when the run ends, by the post step if main was killed.
    const keystone = keystoneAccess(glance.settings)
    let handle: number | undefined
    const connection = await connectGlance(glance.settings, ctx.log, {
      onTokens: tokens => {
        const resource: Resource = { kind: 'keystone-tokens', keystone, tokens: [...tokens] }
        if (handle === undefined) handle = ctx.teardown.push(resource)
        else ctx.teardown.update(handle, resource)
      }
    })
    ctx.openstack = connection
    ctx.teardown.imageDeleter = async image => {
      await connection.glance.deleteImage(image.imageId)
    }
  }
}

/** The Glance family an image rotates in: a preview rotates with its own pull request only. */
export function glanceFamily(config: Config): string {
  return config.github.preview
    ? previewTagPrefix(config.image.family, config.github.preview.pr)
    : config.image.family
}

/** Where the image came from, as Glance properties (an operator can trace any image to its run). */
export function provenanceProperties(ctx: Context, env = process.env): Record<string, string> {
  const properties: Record<string, string> = {}
  const set = (key: string, value: string | undefined): void => {
    if (value) properties[`arch_image_${key}`] = value
  }
  set('repository', env.GITHUB_REPOSITORY)
  set('commit', env.GITHUB_SHA)
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID) {
    set('run_url', `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`)
  }
  set('snapshot', ctx.snapshotDate)
  // The SPDX document's sha256: the SBOM an operator can fetch from the release and check.
  set('sbom_sha256', ctx.sbom?.spdxSha256)
  if (ctx.config.github.preview) {
    set('pr', String(ctx.config.github.preview.pr))
    set('pr_sha', ctx.config.github.preview.sha)
  }
  return properties
}

/** The image's attestation, as Glance properties: set after the user's, which cannot replace them. */
export function attestationProperties(ctx: Context): Record<string, string> {
  if (!ctx.attestation) return {}
  return {
    arch_image_attestation_url: ctx.attestation.provenance.url,
    arch_image_attestation_digest: ctx.attestation.subjectDigest
  }
}

/**
 * A reused image (identical bytes, published earlier) keeps the properties it was created with: point
 * it to this run's attestation, which is about the same digest.
 */
async function pointToAttestation(ctx: Context, image: Image): Promise<void> {
  const properties = attestationProperties(ctx)
  const changes = Object.entries(properties).filter(([key, value]) => image[key] !== value)
  if (changes.length === 0 || !ctx.openstack) return
  await ctx.openstack.glance.updateImage(
    image.id,
    changes.map(([key, value]) => ({ op: key in image ? 'replace' : 'add', path: `/${key}`, value }))
  )
  ctx.log.info(`Glance: image ${image.id} now points to attestation ${ctx.attestation?.provenance.url}`)
}

export const inspectStage: Stage = {
  name: 'inspect',
  async run(ctx) {
    const file = ctx.config.image.path
    if (!file) throw new Error('BUG: inspect without image-path')
    const info = await ctx.exec.run(['qemu-img', 'info', '--output=json', '--', file], { quiet: true })
    const parsed = JSON.parse(info.stdout) as { format: string; 'virtual-size': number }
    if (parsed.format !== 'qcow2' && parsed.format !== 'raw') {
      throw new Error(`image-path: ${file} is a ${parsed.format} image; publish qcow2 or raw`)
    }
    if (parsed.format === 'qcow2') await ctx.exec.run(['qemu-img', 'check', '-f', 'qcow2', '--', file])
    ctx.imageName ||= publishedImageName(file)
    const digest = await hashFile(file)
    ctx.image = {
      path: file,
      format: parsed.format,
      size: statSync(file).size,
      virtualSize: parsed['virtual-size'],
      sha256: digest.sha256,
      sha512: digest.sha512,
      sha256sumsPath: '',
      manifestPath: ''
    }
    ctx.log.info(
      `${file}: ${parsed.format}, ${formatBytes(digest.size)} (virtual ${formatBytes(parsed['virtual-size'])}), sha256 ${digest.sha256}`
    )
  }
}

export const publishStage: Stage = {
  name: 'publish',
  enabled: ctx => ctx.config.glance !== undefined,
  async run(ctx) {
    const { config, openstack, image } = ctx
    const glance = config.glance
    if (!glance || !openstack || !image) throw new Error('BUG: publish without Glance or an image')
    const firmware = config.mode === 'publish' ? undefined : config.configure.bootMode
    const handles = new Map<string, { handle: number; unfollow: () => void }>()
    // What the post step needs to delete the image without the credentials (see StoredGlanceAccess).
    const imageResource = (imageId: string, token: string | undefined): GlanceImageResource => ({
      kind: 'glance-image',
      imageId,
      name: ctx.imageName,
      ...(token
        ? {
            glance: { ...keystoneAccess(glance.settings), endpoint: openstack.glance.endpoint, token }
          }
        : {})
    })
    const result = await publishImage({
      glance: openstack.glance,
      log: ctx.log,
      file: image.path,
      name: ctx.imageName,
      family: glanceFamily(config),
      diskFormat: image.format === 'raw' ? 'raw' : 'qcow2',
      visibility: glance.visibility,
      minDisk: glance.minDisk ?? Math.ceil(image.virtualSize / GiB),
      minRam: glance.minRam,
      protected: glance.protected,
      tags: glance.tags,
      properties: {
        ...archImageProperties(firmware ? { firmware } : {}),
        ...provenanceProperties(ctx),
        ...glance.properties,
        ...attestationProperties(ctx)
      },
      shareWith: glance.shareWith,
      uploadMethod: glance.uploadMethod,
      keep: glance.keep,
      rotateDryRun: glance.rotateDryRun,
      digest: { size: image.size, sha256: image.sha256, sha512: image.sha512 },
      onCreated: id => {
        const handle = ctx.teardown.push(imageResource(id, openstack.session.currentToken()))
        const unfollow = openstack.session.onTokens(tokens =>
          ctx.teardown.update(handle, imageResource(id, tokens.at(-1)))
        )
        handles.set(id, { handle, unfollow })
      },
      onSettled: id => {
        const held = handles.get(id)
        if (!held) return
        held.unfollow()
        ctx.teardown.forget(held.handle)
      },
      onProgress: progress =>
        ctx.log.info(
          `Glance upload: ${progress.percent.toFixed(0)} % (${formatBytes(progress.bytes)} of ${formatBytes(progress.total)}), ${progress.mibPerSecond.toFixed(1)} MiB/s`
        )
    })
    if (result.reused) await pointToAttestation(ctx, result.image)
    ctx.glanceImage = {
      id: result.image.id,
      name: ctx.imageName,
      url: `${openstack.glance.endpoint.replace(/\/+$/, '')}/images/${result.image.id}`,
      osHashAlgo: result.image.os_hash_algo ?? '',
      osHashValue: result.image.os_hash_value ?? '',
      reused: result.reused,
      ...(result.rotation
        ? { rotated: result.rotation.deleted.map(deleted => deleted.name ?? deleted.id) }
        : {})
    }
    ctx.log.info(`Glance: ${ctx.glanceImage.url} (${result.reused ? 'reused' : 'uploaded'})`)
  }
}
