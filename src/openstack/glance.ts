// Glance v2: images (create, get, list, patch, delete, share), the data upload (streamed, hashed while
// read, verified against what Glance computed) and the glance-direct import flow. A 401 gets one
// re-authentication and one retry; an upload asks for a token that outlives it.
import { stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpClient, OpenStackError, type HttpResponse, type UploadProgress } from './http.js'
import type { OpenStackSettings } from './config.js'
import { KeystoneSession, type KeystoneAccess, type Logger, type TokenSource } from './keystone.js'

export type DiskFormat =
  'qcow2' | 'raw' | 'vmdk' | 'vdi' | 'vhd' | 'vhdx' | 'iso' | 'ami' | 'ari' | 'aki' | 'ploop'
export type Visibility = 'public' | 'private' | 'shared' | 'community'

export interface ImageCreate {
  name: string
  diskFormat: DiskFormat
  containerFormat?: string
  visibility?: Visibility
  minDisk?: number
  minRam?: number
  protected?: boolean
  tags?: string[]
  /** Created hidden from image lists (os_hidden, API >= 2.7). */
  hidden?: boolean
  /** Free-form string properties (os_distro, hw_*, provenance). */
  properties?: Record<string, string>
}

/** An image as Glance returns it: the fields we use, and every custom property as a string. */
export interface Image {
  id: string
  name: string | null
  status: string
  visibility: Visibility
  protected: boolean
  tags: string[]
  size: number | null
  checksum: string | null
  os_hash_algo: string | null
  os_hash_value: string | null
  owner: string | null
  created_at: string
  updated_at: string
  disk_format: string | null
  container_format: string | null
  min_disk: number
  min_ram: number
  [property: string]: unknown
}

export interface ListFilters {
  name?: string
  status?: string
  visibility?: Visibility | 'all'
  owner?: string
  /** Every tag must be present (Glance ANDs repeated `tag=`). */
  tags?: string[]
  /** Exact matches on custom properties. */
  properties?: Record<string, string>
  /** e.g. `created_at:desc` */
  sort?: string
  /** Page size. */
  limit?: number
}

export type PatchOperation =
  { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string }

/** Size and digests of the bytes we sent. */
export interface LocalDigest {
  size: number
  sha256: string
  sha512: string
  /** false: the digests are the build's, not computed from the bytes as they were sent. */
  hashedWhileSending?: boolean
}

export interface UploadOptions {
  onProgress?: (progress: UploadProgress) => void
  progressIntervalMs?: number
  idleTimeoutMs?: number
  /**
   * A rate the upload will surely beat (MiB/s), to estimate how long the token must live.
   * Default 10 MiB/s: a slow link, so a token that could run out mid-upload is replaced first.
   */
  assumedMiBPerSecond?: number
  /** Digests computed earlier (say by the build): a file that no longer matches them is an error. */
  expected?: Partial<LocalDigest>
  /** Cancel the upload: the connection is closed and the call rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
  /** Stop waiting: the call rejects with the signal's reason. */
  signal?: AbortSignal
  /** Wait too until the image is in every one of these stores (a copy-image into an active image). */
  untilStores?: string[]
}

export interface ImportOptions {
  /** Multi-store Glance: import into these stores (image API >= 2.8), all of them or none. */
  stores?: string[]
}

/** The request body of POST /v2/images/{id}/import. */
export function importBody(method: string, options: ImportOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { method: { name: method } }
  if (options.stores && options.stores.length > 0) {
    body.stores = options.stores
    // one store failing fails the import: Glance takes the data out of the others again
    body.all_stores_must_succeed = true
  }
  return body
}

/** A comma-separated Glance property (stores, os_glance_importing_to_stores) as a list. */
export function storeList(value: unknown): string[] {
  return typeof value === 'string'
    ? value
        .split(',')
        .map(store => store.trim())
        .filter(Boolean)
    : []
}

export class ImageVerificationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImageVerificationError'
  }
}

const MiB = 1024 * 1024
const TOKEN_MARGIN_MS = 5 * 60_000
const CONTAINER_DEFAULT = 'bare'
const JSON_PATCH = 'application/openstack-images-v2.1-json-patch'

/** What `publishImage` needs from Glance (the seam a fake can implement). */
export interface GlanceApi {
  createImage(request: ImageCreate): Promise<Image>
  getImage(id: string): Promise<Image>
  findImage(id: string): Promise<Image | undefined>
  listImages(filters?: ListFilters): Promise<Image[]>
  updateImage(id: string, operations: PatchOperation[]): Promise<Image>
  deleteImage(id: string): Promise<boolean>
  addMember(imageId: string, projectId: string): Promise<void>
  listMembers(imageId: string): Promise<{ member_id: string; status: string }[]>
  importMethods(): Promise<string[]>
  uploadFile(id: string, file: string, options?: UploadOptions): Promise<LocalDigest>
  stageFile(id: string, file: string, options?: UploadOptions): Promise<LocalDigest>
  importImage(id: string, method?: string, options?: ImportOptions): Promise<void>
  /** The store ids of a multi-store Glance (GET /v2/info/stores); throws where it has none. */
  storeIds(): Promise<string[]>
  /** Take an image's data out of one store (DELETE /v2/stores/{store}/{id}); false when it was not in it. */
  removeFromStore(id: string, store: string): Promise<boolean>
  waitForStatus(id: string, wanted: string, options?: WaitOptions): Promise<Image>
  projectId(): Promise<string | undefined>
  /** Whether images can be created hidden (`os_hidden`, image API >= 2.7). */
  supportsHidden(): Promise<boolean>
}

/** The highest image API version a Glance versions document lists as CURRENT or SUPPORTED. */
export function newestApiVersion(document: unknown): [number, number] | undefined {
  const versions = (document as { versions?: { id?: unknown; status?: unknown }[] } | null)?.versions
  let newest: [number, number] | undefined
  for (const version of Array.isArray(versions) ? versions : []) {
    const match = typeof version.id === 'string' ? /^v(\d+)\.(\d+)$/.exec(version.id) : null
    if (!match || !['CURRENT', 'SUPPORTED'].includes(String(version.status))) continue
    const found: [number, number] = [Number(match[1]), Number(match[2])]
    if (!newest || found[0] > newest[0] || (found[0] === newest[0] && found[1] > newest[1])) newest = found
  }
  return newest
}

/** The request body of POST /v2/images. */
export function createBody(request: ImageCreate): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request.properties ?? {})) {
    if (typeof value !== 'string') throw new Error(`image property ${key} must be a string`)
    body[key] = value
  }
  Object.assign(body, {
    name: request.name,
    disk_format: request.diskFormat,
    container_format: request.containerFormat ?? CONTAINER_DEFAULT
  })
  if (request.visibility) body.visibility = request.visibility
  if (request.minDisk !== undefined) body.min_disk = request.minDisk
  if (request.minRam !== undefined) body.min_ram = request.minRam
  if (request.protected !== undefined) body.protected = request.protected
  if (request.tags && request.tags.length > 0) body.tags = request.tags
  if (request.hidden) body.os_hidden = true
  return body
}

/** The query string of GET /v2/images. */
export function listQuery(filters: ListFilters): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(filters.properties ?? {})) query.append(key, value)
  if (filters.name !== undefined) query.append('name', filters.name)
  if (filters.status) query.append('status', filters.status)
  if (filters.visibility) query.append('visibility', filters.visibility)
  if (filters.owner) query.append('owner', filters.owner)
  for (const tag of filters.tags ?? []) query.append('tag', tag)
  if (filters.sort) query.append('sort', filters.sort)
  if (filters.limit) query.append('limit', String(filters.limit))
  const text = query.toString()
  return text ? `?${text}` : ''
}

/**
 * Compare what Glance holds with what we sent; throws on any difference. Returns whether a hash
 * proved the bytes (false: Glance reports none we compute, only the size was compared).
 */
export function verifyImage(image: Image, local: LocalDigest, log?: Logger): boolean {
  if (image.size !== null && image.size !== undefined && image.size !== local.size) {
    throw new ImageVerificationError(
      `image ${image.id}: Glance stored ${image.size} bytes, we sent ${local.size}`
    )
  }
  const algo = image.os_hash_algo?.toLowerCase()
  const value = image.os_hash_value?.toLowerCase()
  if (!algo || !value) {
    log?.warning(`image ${image.id}: Glance reports no os_hash_value; only the size was verified`)
    return false
  }
  const ours = algo === 'sha512' ? local.sha512 : algo === 'sha256' ? local.sha256 : undefined
  if (ours === undefined) {
    log?.warning(
      `image ${image.id}: Glance hashes with ${algo}, which we do not compute; only the size was verified`
    )
    return false
  }
  if (ours !== value) {
    throw new ImageVerificationError(
      `image ${image.id}: Glance's ${algo} ${value} differs from the ${algo} of the bytes we sent (${ours})`
    )
  }
  return true
}

export class Glance implements GlanceApi {
  /** @param endpoint Glance's v2 root (`.../v2`), see normaliseImageEndpoint. */
  constructor(
    private readonly auth: TokenSource,
    readonly endpoint: string,
    private readonly http: HttpClient,
    private readonly log: Logger = { info: () => {}, warning: () => {} }
  ) {}

  static async connect(session: KeystoneSession, http: HttpClient, log?: Logger): Promise<Glance> {
    const endpoint = await session.imageEndpoint()
    log?.info(`Glance: ${endpoint}`)
    return new Glance(session, endpoint, http, log)
  }

  projectId(): Promise<string | undefined> {
    return this.auth.projectId()
  }

  private hidden?: Promise<boolean>

  /** Read once from Glance's versions document (next to `/v2`): os_hidden came with API 2.7. */
  supportsHidden(): Promise<boolean> {
    this.hidden ??= (async () => {
      const root = this.endpoint.replace(/\/+$/, '').replace(/\/v2(\.\d+)?$/, '')
      const response = await this.http.send({ method: 'GET', url: `${root}/versions` })
      if (response.status !== 200 && response.status !== 300) {
        throw OpenStackError.fromResponse(
          'GET',
          `${root}/versions`,
          response,
          'reading the image API versions'
        )
      }
      let document: unknown
      try {
        document = JSON.parse(response.text)
      } catch {
        throw new Error(`Glance answered GET ${root}/versions with a body that is not JSON`)
      }
      const newest = newestApiVersion(document)
      return newest !== undefined && (newest[0] > 2 || (newest[0] === 2 && newest[1] >= 7))
    })()
    return this.hidden
  }

  private url(pathAndQuery: string): string {
    return `${this.endpoint.replace(/\/+$/, '')}${pathAndQuery}`
  }

  /** A request with the token; one re-authentication and retry after a 401. */
  private async call(
    method: string,
    pathAndQuery: string,
    options: { json?: unknown; headers?: Record<string, string>; accept?: number[]; context?: string } = {}
  ): Promise<HttpResponse> {
    const url = this.url(pathAndQuery)
    let token = await this.auth.token()
    for (let attempt = 1; ; attempt++) {
      const response = await this.http.send({
        method,
        url,
        headers: { 'X-Auth-Token': token, ...options.headers },
        ...(options.json !== undefined ? { json: options.json } : {})
      })
      if (response.status === 401 && attempt === 1) {
        token = await this.auth.reauthenticate(
          `Glance refused the token (401 on ${method} ${pathAndQuery.split('?')[0]})`
        )
        continue
      }
      if ((response.status >= 200 && response.status < 300) || options.accept?.includes(response.status)) {
        return response
      }
      throw OpenStackError.fromResponse(method, url, response, options.context)
    }
  }

  private async json<T>(
    method: string,
    pathAndQuery: string,
    options: Parameters<Glance['call']>[2] = {}
  ): Promise<T> {
    const response = await this.call(method, pathAndQuery, options)
    try {
      return JSON.parse(response.text) as T
    } catch {
      throw new Error(`Glance answered ${method} ${pathAndQuery} with a body that is not JSON`)
    }
  }

  async createImage(request: ImageCreate): Promise<Image> {
    return this.json<Image>('POST', '/images', {
      json: createBody(request),
      context: `creating image ${request.name}`
    })
  }

  async getImage(id: string): Promise<Image> {
    return this.json<Image>('GET', `/images/${encodeURIComponent(id)}`)
  }

  async findImage(id: string): Promise<Image | undefined> {
    const response = await this.call('GET', `/images/${encodeURIComponent(id)}`, { accept: [404] })
    return response.status === 404 ? undefined : (JSON.parse(response.text) as Image)
  }

  /** Every image matching the filters, following `next` links. */
  async listImages(filters: ListFilters = {}): Promise<Image[]> {
    const images: Image[] = []
    let next: string | undefined = `/images${listQuery(filters)}`
    for (let page = 0; next && page < 1000; page++) {
      const body: { images: Image[]; next?: string } = await this.json('GET', next)
      images.push(...body.images)
      // Glance's next is a root path (/v2/images?marker=...); ours are relative to .../v2
      next = body.next ? body.next.replace(/^\/v2(?=\/)/, '') : undefined
    }
    return images
  }

  async updateImage(id: string, operations: PatchOperation[]): Promise<Image> {
    return this.json<Image>('PATCH', `/images/${encodeURIComponent(id)}`, {
      json: operations,
      headers: { 'Content-Type': JSON_PATCH },
      context: `updating image ${id}`
    })
  }

  /** Delete an image; false when it was not there. */
  async deleteImage(id: string): Promise<boolean> {
    const response = await this.call('DELETE', `/images/${encodeURIComponent(id)}`, {
      accept: [404],
      context: `deleting image ${id}`
    })
    return response.status !== 404
  }

  /** Share with a project (visibility must be shared); a project already a member is fine. */
  async addMember(imageId: string, projectId: string): Promise<void> {
    await this.call('POST', `/images/${encodeURIComponent(imageId)}/members`, {
      json: { member: projectId },
      accept: [409],
      context: `sharing image ${imageId} with project ${projectId}`
    })
  }

  async listMembers(imageId: string): Promise<{ member_id: string; status: string }[]> {
    const body = await this.json<{ members: { member_id: string; status: string }[] }>(
      'GET',
      `/images/${encodeURIComponent(imageId)}/members`
    )
    return body.members
  }

  /** The import methods this Glance offers (GET /v2/info/import). */
  async importMethods(): Promise<string[]> {
    const body = await this.json<{ 'import-methods'?: { value?: string[] } }>('GET', '/info/import')
    return body['import-methods']?.value ?? []
  }

  /** PUT the file as the image's data (image must be queued); returns what we sent. */
  uploadFile(id: string, file: string, options: UploadOptions = {}): Promise<LocalDigest> {
    return this.stream(`/images/${encodeURIComponent(id)}/file`, id, file, options, 'uploading')
  }

  /** PUT the file into the staging area (import flow, step 1). */
  stageFile(id: string, file: string, options: UploadOptions = {}): Promise<LocalDigest> {
    return this.stream(`/images/${encodeURIComponent(id)}/stage`, id, file, options, 'staging')
  }

  /** POST /import (step 2): Glance moves the staged data into the store(s) in the background. */
  async importImage(id: string, method = 'glance-direct', options: ImportOptions = {}): Promise<void> {
    const into = options.stores?.length ? ` into ${options.stores.join(', ')}` : ''
    await this.call('POST', `/images/${encodeURIComponent(id)}/import`, {
      json: importBody(method, options),
      context: `importing image ${id} (${method}${into})`
    })
  }

  async storeIds(): Promise<string[]> {
    const response = await this.call('GET', '/info/stores', { accept: [404] })
    if (response.status === 404) {
      throw new Error('this Glance has no multiple stores (GET /v2/info/stores: 404; enabled_backends unset)')
    }
    let body: { stores?: { id?: unknown }[] }
    try {
      body = JSON.parse(response.text) as typeof body
    } catch {
      throw new Error('Glance answered GET /info/stores with a body that is not JSON')
    }
    return (body.stores ?? []).flatMap(store => (typeof store.id === 'string' ? [store.id] : []))
  }

  async removeFromStore(id: string, store: string): Promise<boolean> {
    const response = await this.call(
      'DELETE',
      `/stores/${encodeURIComponent(store)}/${encodeURIComponent(id)}`,
      {
        accept: [404],
        context: `removing image ${id} from store ${store}`
      }
    )
    return response.status !== 404
  }

  private async stream(
    pathName: string,
    id: string,
    file: string,
    options: UploadOptions,
    verb: string
  ): Promise<LocalDigest> {
    const size = (await stat(file)).size
    const rate = options.assumedMiBPerSecond ?? 10
    const estimateMs = (size / MiB / rate) * 1000
    let token = await this.auth.token(estimateMs + TOKEN_MARGIN_MS)
    const expiry = this.auth.tokenExpiry?.()
    if (expiry && expiry.getTime() - Date.now() < estimateMs) {
      this.log.warning(
        `Glance: at ${rate} MiB/s the upload of ${(size / MiB).toFixed(0)} MiB could outlast the token ` +
          `(valid until ${expiry.toISOString()}); a token that expires mid-upload makes Glance drop the data`
      )
    }
    this.log.info(`Glance: ${verb} ${file} (${(size / MiB).toFixed(1)} MiB) into image ${id}`)
    // the build's digests are known: no hashing while sending; Glance's hash of what it stored is
    // compared with them (verifyImage), and where Glance has none we can use, publish re-reads the file
    const expected = options.expected
    const knownDigest =
      expected?.sha256 && expected.sha512 && expected.size !== undefined
        ? { size: expected.size, sha256: expected.sha256, sha512: expected.sha512 }
        : undefined
    for (let attempt = 1; ; attempt++) {
      const result = await this.http.upload({
        method: 'PUT',
        url: this.url(pathName),
        headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
        file,
        size,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.progressIntervalMs ? { progressIntervalMs: options.progressIntervalMs } : {}),
        ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        noHash: knownDigest !== undefined
      })
      const { response } = result
      if (response.status === 401 && attempt === 1) {
        // refused before the data was taken: the image is still queued, so send it again
        token = await this.auth.reauthenticate(`Glance refused the token for the upload of ${id}`)
        continue
      }
      if (response.status < 200 || response.status >= 300) {
        throw OpenStackError.fromResponse('PUT', this.url(pathName), response, `${verb} image ${id}`)
      }
      const seconds = result.elapsedMs / 1000
      this.log.info(
        `Glance: sent ${(result.bytes / MiB).toFixed(1)} MiB in ${seconds.toFixed(1)} s` +
          ` (${(seconds > 0 ? result.bytes / MiB / seconds : 0).toFixed(1)} MiB/s)`
      )
      const local: LocalDigest = knownDigest
        ? { ...knownDigest, size: result.bytes, hashedWhileSending: false }
        : { size: result.bytes, sha256: result.sha256, sha512: result.sha512 }
      for (const key of ['sha256', 'sha512', 'size'] as const) {
        const expected = options.expected?.[key]
        if (expected !== undefined && expected !== local[key]) {
          throw new ImageVerificationError(
            `${file} changed since it was hashed: ${key} ${String(local[key])}, expected ${String(expected)}`
          )
        }
      }
      return local
    }
  }

  /**
   * Poll until the image reaches `wanted`. Fails fast when it is killed or deleted, or when an import
   * reports failure (os_glance_failed_import).
   */
  async waitForStatus(id: string, wanted: string, options: WaitOptions = {}): Promise<Image> {
    const timeoutMs = options.timeoutMs ?? 30 * 60_000
    const intervalMs = options.intervalMs ?? 1000
    const deadline = Date.now() + timeoutMs
    let last: Image | undefined
    let importing = ''
    let wasImporting = false
    const { signal } = options
    for (;;) {
      signal?.throwIfAborted()
      last = await this.getImage(id)
      const now = storeList(last.os_glance_importing_to_stores).join(', ')
      if (now !== importing) {
        if (now) this.log.info(`Glance: image ${id} is being imported to ${now} (${last.status})`)
        importing = now
      }
      const stillMissing = (options.untilStores ?? []).filter(
        store => !storeList(last?.stores).includes(store)
      )
      if (last.status === wanted && stillMissing.length === 0) return last
      if (last.status === 'killed' || last.status === 'deleted' || last.status === 'pending_delete') {
        throw new Error(`image ${id} became ${last.status} while waiting for ${wanted}`)
      }
      // a copy: only its own stores count, once Glance is no longer importing into them (an earlier
      // copy's failure stays listed until the new task starts)
      const failed = storeList(last.os_glance_failed_import).filter(
        store => !options.untilStores || (options.untilStores.includes(store) && !now.includes(store))
      )
      if (failed.length > 0) {
        throw new Error(
          `the import of image ${id} failed in store(s) ${failed.join(', ')} (os_glance_failed_import); status ${last.status}`
        )
      }
      if (last.status === 'importing') wasImporting = true
      else if (wasImporting && last.status === 'queued') {
        throw new Error(`the import of image ${id} failed: the image is queued again`)
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `image ${id} is still ${last.status}${stillMissing.length > 0 ? ` and not in ${stillMissing.join(', ')}` : ''} after ${Math.round(timeoutMs / 1000)} s (wanted ${wanted})`
        )
      }
      await sleep(
        Math.min(intervalMs, Math.max(0, deadline - Date.now())),
        undefined,
        signal ? { signal } : {}
      ).catch((error: unknown) => {
        signal?.throwIfAborted()
        throw error
      })
    }
  }
}

/** Glance reached with a token obtained earlier (the post step's, stored by the main step). */
export interface GlanceAccess extends KeystoneAccess {
  /** Glance's v2 root. */
  endpoint: string
  token: string
}

export interface GlanceConnection {
  glance: Glance
  session: KeystoneSession
  http: HttpClient
  /** Close idle keep-alive sockets (the process can then exit). */
  close(): void
}

/**
 * Authenticate, find Glance in the catalog (or the override) and return a client for it. `onTokens`
 * hears of every token from the first one on (to register it for revocation the moment it exists).
 */
export async function connectGlance(
  settings: OpenStackSettings,
  log: Logger,
  options: { onTokens?: (tokens: readonly string[]) => void } = {}
): Promise<GlanceConnection> {
  const http = new HttpClient(settings)
  try {
    const session = new KeystoneSession(settings, http, log)
    if (options.onTokens) session.onTokens(options.onTokens)
    const glance = await Glance.connect(session, http, log)
    return { glance, session, http, close: () => http.close() }
  } catch (error) {
    http.close()
    throw error
  }
}
