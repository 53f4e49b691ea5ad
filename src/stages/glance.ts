// openstack: authenticate and find Glance before any disk is touched (wrong credentials fail in
// seconds, not after the build). inspect: `mode: publish` reads an existing image file. publish: the
// image into Glance, verified by hash, registered for deletion until it is settled, then rotation.
import { statSync } from 'node:fs'
import { describeAuth } from '../openstack/config.js'
import { connectGlance, type GlanceConnection, type Image } from '../openstack/glance.js'
import { hashFile } from '../util/hash.js'
import { keystoneAccess } from '../openstack/keystone.js'
import { archImageProperties, publishToTargets, undoUnsettled } from '../openstack/publish.js'
import { checkStores } from '../openstack/stores.js'
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
    const several = glance.targets.length > 1
    const connected: { label: string; connection: GlanceConnection }[] = []
    ctx.openstackTargets = connected
    ctx.teardown.imageDeleter = async image => {
      const target = connected.find(candidate => candidate.label === image.target) ?? connected[0]
      if (!target) throw new Error(`no OpenStack connection to delete Glance image ${image.imageId}`)
      await undoUnsettled(target.connection.glance, image, ctx.log)
    }
    for (const target of glance.targets) {
      ctx.log.info(`Keystone${several ? ` (${target.label})` : ''}: ${describeAuth(target.settings)}`)
      // Every token is a resource: revoked when the run ends, by the post step if main was killed.
      const keystone = keystoneAccess(target.settings)
      let handle: number | undefined
      try {
        const connection = await connectGlance(target.settings, ctx.log, {
          onTokens: tokens => {
            const resource: Resource = { kind: 'keystone-tokens', keystone, tokens: [...tokens] }
            if (handle === undefined) handle = ctx.teardown.push(resource)
            else ctx.teardown.update(handle, resource)
          }
        })
        connected.push({ label: target.label, connection })
      } catch (error) {
        if (!several) throw error
        throw new Error(`Glance target ${target.label}: ${(error as Error).message}`, { cause: error })
      }
      // each target offers every store asked for, or the run stops before any disk is touched
      const last = connected.at(-1)
      if (glance.stores.length > 0 && last) {
        await checkStores(last.connection.glance, glance.stores, target.label)
        ctx.log.info(`Glance ${target.label}: offers the stores ${glance.stores.join(', ')}`)
      }
    }
    ctx.openstack = connected[0]?.connection
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
async function pointToAttestation(ctx: Context, connection: GlanceConnection, image: Image): Promise<void> {
  const properties = attestationProperties(ctx)
  const changes = Object.entries(properties).filter(([key, value]) => image[key] !== value)
  if (changes.length === 0) return
  await connection.glance.updateImage(
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
    const targets = ctx.openstackTargets ?? []
    if (!glance || !openstack || !image || targets.length === 0)
      throw new Error('BUG: publish without Glance or an image')
    const several = targets.length > 1
    const firmware = config.mode === 'publish' ? undefined : config.configure.bootMode
    const handles = new Map<string, { handle: number; unfollow: () => void }>()
    const connectionOf = (label: string): GlanceConnection => {
      const found = targets.find(target => target.label === label)
      if (!found) throw new Error(`BUG: no connection for target ${label}`)
      return found.connection
    }
    // What the post step needs to delete the image without the credentials (see StoredGlanceAccess).
    const imageResource = (
      label: string,
      imageId: string,
      token: string | undefined,
      stores: string[] | undefined
    ): GlanceImageResource => {
      const connection = connectionOf(label)
      const settings = glance.targets.find(target => target.label === label)?.settings ?? glance.settings
      return {
        kind: 'glance-image',
        imageId,
        name: ctx.imageName,
        ...(several ? { target: label } : {}),
        ...(stores ? { stores } : {}),
        ...(token
          ? { glance: { ...keystoneAccess(settings), endpoint: connection.glance.endpoint, token } }
          : {})
      }
    }
    // a created image (or copies of an earlier one) joins the teardown stack until it is settled
    const register = (label: string, id: string, stores: string[] | undefined): void => {
      const session = connectionOf(label).session
      const handle = ctx.teardown.push(imageResource(label, id, session.currentToken(), stores))
      const unfollow = session.onTokens(tokens =>
        ctx.teardown.update(handle, imageResource(label, id, tokens.at(-1), stores))
      )
      handles.set(`${label} ${id}`, { handle, unfollow })
    }
    const result = await publishToTargets({
      targets: targets.map(target => ({ label: target.label, glance: target.connection.glance })),
      parallel: glance.parallelUploads,
      uploadRetries: glance.uploadRetries,
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
      ...(glance.stores.length > 0 ? { stores: glance.stores } : {}),
      keep: glance.keep,
      rotateDryRun: glance.rotateDryRun,
      rotate: glance.rotate,
      ...(glance.stableName ? { stableName: glance.stableName } : {}),
      digest: { size: image.size, sha256: image.sha256, sha512: image.sha512 },
      onCreated: (label, id) => register(label, id, undefined),
      onCopying: (label, id, stores) => register(label, id, stores),
      onSettled: (label, id) => {
        const held = handles.get(`${label} ${id}`)
        if (!held) return
        held.unfollow()
        ctx.teardown.forget(held.handle)
      },
      onProgress: (label, progress) =>
        ctx.log.info(
          `Glance upload${several ? ` (${label})` : ''}: ${progress.percent.toFixed(0)} % (${formatBytes(progress.bytes)} of ${formatBytes(progress.total)}), ${progress.mibPerSecond.toFixed(1)} MiB/s`
        )
    })
    for (const target of result.targets) {
      if (target.reused) await pointToAttestation(ctx, connectionOf(target.label), target.image)
    }
    const first = result.targets[0]
    if (!first) throw new Error('BUG: published to no target')
    const firstEndpoint = connectionOf(first.label).glance.endpoint
    ctx.glanceImage = {
      id: first.image.id,
      name: first.image.name ?? ctx.imageName,
      url: `${firstEndpoint.replace(/\/+$/, '')}/images/${first.image.id}`,
      osHashAlgo: first.image.os_hash_algo ?? '',
      osHashValue: first.image.os_hash_value ?? '',
      reused: result.targets.every(target => target.reused),
      ids: Object.fromEntries(result.targets.map(target => [target.label, target.image.id])),
      rotated: result.targets.flatMap(target =>
        (target.rotation?.deleted ?? []).map(
          rotated => `${several ? `${target.label}: ` : ''}${rotated.name ?? rotated.id}`
        )
      )
    }
    for (const target of result.targets) {
      const url = `${connectionOf(target.label).glance.endpoint.replace(/\/+$/, '')}/images/${target.image.id}`
      ctx.log.info(
        `Glance${several ? ` ${target.label}` : ''}: ${url} (${target.reused ? 'reused' : 'uploaded'})`
      )
    }
  }
}
