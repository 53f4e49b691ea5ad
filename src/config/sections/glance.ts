// The Glance inputs: whether to publish, the OpenStack settings (read as openstackclient reads them)
// and what the image looks like in Glance. Checked with the other inputs, before any disk is touched.
import YAML from 'yaml'
import {
  OpenStackConfigError,
  resolveOpenStackSettings,
  type Env,
  type OpenStackSettings
} from '../../openstack/config.js'
import type { Visibility } from '../../openstack/glance.js'
import { FAMILY_PROPERTY, SHA256_PROPERTY, type UploadMethod } from '../../openstack/publish.js'
import type { InputName, SectionInput } from '../reader.js'

/** One place an image is published to: a cloud in a region. */
export interface GlanceTarget {
  /** `<cloud>/<region>` (`OS/<region>` for OS_* alone): the key of the image-ids output. */
  label: string
  settings: OpenStackSettings
}

export type RotateAction = 'delete' | 'hide'

export interface GlanceConfig {
  /** The first target's settings. */
  settings: OpenStackSettings
  /** Every cloud in every region, in the order given; at least one. */
  targets: GlanceTarget[]
  visibility: Visibility
  /** GiB; undefined: the image's virtual size, rounded up. */
  minDisk?: number
  /** MiB. */
  minRam: number
  protected: boolean
  tags: string[]
  properties: Record<string, string>
  shareWith: string[]
  uploadMethod: UploadMethod
  /** Multi-store Glance: the stores to import into (empty: the default store). */
  stores: string[]
  /** Keep the N newest images of the family; 0: no rotation. */
  keep: number
  rotateDryRun: boolean
  rotate: RotateAction
  /** The name the newest verified image holds; the previous holder gets its date appended. */
  stableName?: string
  parallelUploads: number
  uploadRetries: number
}

type Get = (name: InputName) => string

const VISIBILITIES: Visibility[] = ['private', 'shared', 'community', 'public']
const UPLOAD_METHODS: UploadMethod[] = ['direct', 'import']
const ROTATE_ACTIONS: RotateAction[] = ['delete', 'hide']
const STORE_ID = /^[A-Za-z0-9_.-]{1,255}$/
const PROPERTY_KEY = /^[A-Za-z0-9_:.-]{1,255}$/
const TAG = /^[^\s,][^,]{0,254}$/
// Properties Glance manages itself, or that describe the image's data: setting them would fail or lie.
const RESERVED_PROPERTIES = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'size',
  'virtual_size',
  'owner',
  'created_at',
  'updated_at',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'tags',
  'locations',
  'direct_url',
  'self',
  'file',
  'schema',
  FAMILY_PROPERTY,
  SHA256_PROPERTY
])

/** True when OpenStack credentials are given by inputs or the environment (what `glance: auto` looks for). */
function credentialsGiven(get: Get, environment: Env): boolean {
  return Boolean(
    get('cloud') || get('clouds') || get('clouds-yaml') || environment.OS_CLOUD || environment.OS_AUTH_URL
  )
}

function parseProperties(problems: string[], text: string): Record<string, string> {
  if (!text.trim()) return {}
  let parsed: unknown
  try {
    parsed = YAML.parse(text)
  } catch (error) {
    problems.push(
      `properties: not readable as "key: value" lines (${(error as Error).message.split('\n')[0]})`
    )
    return {}
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push('properties: use "key: value" lines, e.g. hw_vif_model: virtio')
    return {}
  }
  const properties: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!PROPERTY_KEY.test(key)) {
      problems.push(`properties: ${JSON.stringify(key)} is not a property name; use letters, digits and _:.-`)
    } else if (RESERVED_PROPERTIES.has(key)) {
      problems.push(`properties: ${key} is set by Glance or by arch-image; leave it out`)
    } else if (value === null || typeof value === 'object') {
      problems.push(`properties: ${key} needs a plain value (a string, number or boolean)`)
    } else {
      properties[key] = String(value)
    }
  }
  return properties
}

function wholeNumber(problems: string[], input: string, text: string, max: number): number {
  if (/^\d{1,9}$/.test(text) && Number(text) <= max) return Number(text)
  problems.push(`${input}: ${JSON.stringify(text)} is not accepted; use a whole number from 0 to ${max}`)
  return 0
}

/** Whether to publish (a problem is pushed when Glance is required but cannot be). */
function publishes({ get, problems, env }: SectionInput, mode: string): boolean {
  const glanceText = get('glance')
  if (!['auto', 'true', 'false'].includes(glanceText)) {
    problems.push(`glance: ${JSON.stringify(glanceText)} is not accepted; use auto, true or false`)
    return false
  }
  const required = mode === 'publish' || glanceText === 'true'
  if (mode === 'publish' && glanceText === 'false') {
    problems.push('glance: false contradicts mode: publish (which publishes to Glance); drop one of them')
    return false
  }
  if (glanceText === 'false') return false
  if (!credentialsGiven(get, env.environment ?? {})) {
    if (required) {
      problems.push(
        'cloud: no OpenStack credentials; set cloud (with clouds-yaml, or a clouds.yaml where openstackclient looks) or OS_AUTH_URL and the other OS_* variables'
      )
    }
    return false
  }
  return true
}

/**
 * Keystone, the catalog and TLS of one target (a cloud, a region; undefined: the inputs' and OS_*),
 * read as openstackclient reads them; undefined when refused.
 */
function parseSettings(
  { get, problems, warnings, env }: SectionInput,
  target: { cloud?: string; region?: string } = {}
): OpenStackSettings | undefined {
  const allowHttpText = get('allow-insecure-http')
  if (!['true', 'false'].includes(allowHttpText)) {
    problems.push(`allow-insecure-http: ${JSON.stringify(allowHttpText)} is not accepted; use true or false`)
  }
  const allowInsecureHttp = allowHttpText === 'true'
  const cloud = target.cloud ?? get('cloud')
  const region = target.region ?? get('region')
  try {
    const insecureText = get('insecure')
    const settings = resolveOpenStackSettings(env.environment ?? {}, {
      cwd: env.cwd,
      ...(cloud ? { cloud } : {}),
      ...(get('clouds-yaml') ? { cloudsYaml: get('clouds-yaml') } : {}),
      ...(get('secure-yaml') ? { secureYaml: get('secure-yaml') } : {}),
      ...(region ? { region } : {}),
      ...(get('interface') ? { interface: get('interface') } : {}),
      ...(get('cacert') ? { cacert: get('cacert') } : {}),
      ...(insecureText ? { insecure: insecureText === 'true' } : {}),
      ...(get('image-endpoint') ? { imageEndpoint: get('image-endpoint') } : {}),
      allowInsecureHttp,
      ...(env.mask ? { mask: env.mask } : {})
    })
    if (insecureText && !['true', 'false'].includes(insecureText)) {
      problems.push(`insecure: ${JSON.stringify(insecureText)} is not accepted; use true or false`)
    }
    if (settings.insecure) {
      warnings.push('insecure: TLS certificates of Keystone and Glance are not checked')
    }
    if (allowInsecureHttp) {
      warnings.push(
        'allow-insecure-http: plain http:// Keystone and Glance URLs are accepted; the password and tokens may cross the network unencrypted'
      )
    }
    warnings.push(...settings.warnings)
    return settings
  } catch (error) {
    if (error instanceof OpenStackConfigError) problems.push(...error.problems)
    else problems.push(`OpenStack settings: ${(error as Error).message}`)
    return undefined
  }
}

const LIST_SEPARATOR = /[\s,]+/
const LABEL_PART = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/

/**
 * The targets: each cloud of `clouds` (or `cloud`, or OS_* alone) in each region of `regions` (or the
 * cloud's own). Problems and warnings are collected once however many targets share them.
 */
function parseTargets(input: SectionInput): GlanceTarget[] | undefined {
  const { get, problems } = input
  const clouds = get('clouds').split(LIST_SEPARATOR).filter(Boolean)
  const regions = get('regions').split(LIST_SEPARATOR).filter(Boolean)
  if (clouds.length > 0 && get('cloud')) {
    problems.push('clouds: give the clouds either as cloud (one) or as clouds (several), not both')
  }
  if (regions.length > 0 && get('region')) {
    problems.push('regions: give the regions either as region (one) or as regions (several), not both')
  }
  for (const [input, names] of [
    ['clouds', clouds],
    ['regions', regions]
  ] as const) {
    for (const name of names) {
      if (!LABEL_PART.test(name)) {
        problems.push(
          `${input}: ${JSON.stringify(name)} is not accepted; use names of letters, digits and ._:@- separated by spaces or newlines`
        )
      }
    }
    const repeated = names.filter((name, index) => names.indexOf(name) !== index)
    if (repeated.length > 0) problems.push(`${input}: ${repeated.join(', ')} given more than once`)
  }
  const cloudList: (string | undefined)[] = clouds.length > 0 ? clouds : [undefined]
  const regionList: (string | undefined)[] = regions.length > 0 ? regions : [undefined]
  const targets: GlanceTarget[] = []
  const problemsBefore = problems.length
  const seen = new Set<string>()
  for (const cloud of cloudList) {
    for (const region of regionList) {
      // every target reads the same inputs: report each problem and warning once
      const sub: SectionInput = { ...input, problems: [], warnings: [] }
      const settings = parseSettings(sub, { ...(cloud ? { cloud } : {}), ...(region ? { region } : {}) })
      for (const problem of sub.problems) if (!problems.includes(problem)) problems.push(problem)
      for (const warning of sub.warnings) if (!input.warnings.includes(warning)) input.warnings.push(warning)
      if (!settings) continue
      const label = targetLabel(settings)
      if (seen.has(label)) {
        problems.push(
          `clouds: the target ${label} is given twice (two clouds with the same name and region?); each cloud and region once`
        )
      }
      seen.add(label)
      targets.push({ label, settings })
    }
  }
  return problems.length > problemsBefore || targets.length === 0 ? undefined : targets
}

/** `<cloud>/<region>`: what the logs, errors and the image-ids output call a target. */
export function targetLabel(settings: OpenStackSettings): string {
  return `${settings.cloud ?? 'OS'}/${settings.regionName ?? 'default'}`
}

/** Who sees the image: visibility and sharing (a preview stays private). */
function parseVisibility({ get, problems, warnings }: SectionInput, preview: boolean) {
  let visibility = get('visibility') as Visibility
  if (!VISIBILITIES.includes(visibility)) {
    problems.push(
      `visibility: ${JSON.stringify(visibility)} is not accepted; use one of ${VISIBILITIES.join(', ')}`
    )
  }
  const shareWith = get('share-with')
    .split(/[\s,]+/)
    .filter(Boolean)
  for (const project of shareWith) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(project)) {
      problems.push(`share-with: ${JSON.stringify(project)} is not a project id`)
    }
  }
  if (shareWith.length > 0 && visibility !== 'shared') {
    problems.push(`share-with: needs visibility: shared (it is ${visibility})`)
  }
  if (preview && (visibility === 'public' || visibility === 'community')) {
    warnings.push(`visibility: a pull request preview stays private, not ${visibility}`)
    visibility = 'private'
  }
  return { visibility, shareWith }
}

/** The image's record in Glance and what happens around the upload. */
function parseImageRecord({ get, problems }: SectionInput) {
  const minDiskText = get('min-disk')
  const minDisk = minDiskText ? wholeNumber(problems, 'min-disk', minDiskText, 65536) : undefined
  const minRam = wholeNumber(problems, 'min-ram', get('min-ram'), 16 * 1024 * 1024)
  const protectedText = get('protected')
  if (!['true', 'false'].includes(protectedText)) {
    problems.push(`protected: ${JSON.stringify(protectedText)} is not accepted; use true or false`)
  }
  const tags = get('tags')
    .split(/[\n,]+/)
    .map(tag => tag.trim())
    .filter(Boolean)
  for (const tag of tags) {
    if (!TAG.test(tag))
      problems.push(`tags: ${JSON.stringify(tag)} is not accepted; use at most 255 characters`)
  }
  const uploadMethod = get('upload-method') as UploadMethod
  if (!UPLOAD_METHODS.includes(uploadMethod)) {
    problems.push(
      `upload-method: ${JSON.stringify(uploadMethod)} is not accepted; use direct (PUT the file) or import (glance-direct)`
    )
  }
  const stores = parseStores(get('stores'), problems)
  const keep = wholeNumber(problems, 'keep', get('keep'), 1000)
  const rotateDryRunText = get('rotate-dry-run')
  if (!['true', 'false'].includes(rotateDryRunText)) {
    problems.push(`rotate-dry-run: ${JSON.stringify(rotateDryRunText)} is not accepted; use true or false`)
  }
  return {
    ...(minDisk !== undefined ? { minDisk } : {}),
    minRam,
    protected: protectedText === 'true',
    tags,
    uploadMethod,
    stores,
    keep,
    rotateDryRun: rotateDryRunText === 'true'
  }
}

/** Store ids as Glance's enabled_backends names them; os_glance_* are Glance's own, never for images. */
function parseStores(text: string, problems: string[]): string[] {
  const stores = text.split(/\s+/).filter(Boolean)
  for (const store of stores) {
    if (!STORE_ID.test(store) || store.startsWith('os_glance_')) {
      problems.push(
        `stores: ${JSON.stringify(store)} is not accepted; use store ids as Glance's enabled_backends names them (letters, digits, '_', '-', '.'; not os_glance_*)`
      )
    }
  }
  const repeated = stores.filter((store, index) => stores.indexOf(store) !== index)
  if (repeated.length > 0) problems.push(`stores: ${repeated.join(', ')} is given more than once`)
  return stores
}

/** Rotation, the stable name and how the uploads run. */
function parseRollout({ get, problems }: SectionInput) {
  const rotate = get('rotate') as RotateAction
  if (!ROTATE_ACTIONS.includes(rotate)) {
    problems.push(
      `rotate: ${JSON.stringify(rotate)} is not accepted; use delete (older images are deleted) or hide (they get os_hidden)`
    )
  }
  const stableName = get('stable-name')
  if (stableName && !/^\S(.{0,200}\S)?$/.test(stableName)) {
    problems.push(
      `stable-name: ${JSON.stringify(stableName)} is not accepted; use one line of at most 200 characters, without leading or trailing spaces`
    )
  }
  const parallelText = get('parallel-uploads')
  let parallelUploads = wholeNumber(problems, 'parallel-uploads', parallelText, 16)
  if (parallelUploads === 0 && /^\d+$/.test(parallelText)) {
    problems.push('parallel-uploads: "0" is not accepted; use a whole number from 1 to 16')
    parallelUploads = 1
  }
  const uploadRetries = wholeNumber(problems, 'upload-retries', get('upload-retries'), 10)
  return {
    rotate,
    ...(stableName ? { stableName } : {}),
    parallelUploads: Math.max(1, parallelUploads),
    uploadRetries
  }
}

/**
 * The Glance part of the config, or undefined when nothing is published. `required`: mode publish, or
 * `glance: true`; `auto` publishes when credentials are given.
 */
export function parseGlance(
  input: SectionInput,
  options: { mode: string; preview: boolean }
): GlanceConfig | undefined {
  if (!publishes(input, options.mode)) return undefined
  const targets = parseTargets(input)
  const { visibility, shareWith } = parseVisibility(input, options.preview)
  const record = parseImageRecord(input)
  const rollout = parseRollout(input)
  const first = targets?.[0]
  if (!targets || !first) return undefined
  const properties = parseProperties(input.problems, input.get('properties'))
  return { settings: first.settings, targets, visibility, shareWith, properties, ...record, ...rollout }
}
