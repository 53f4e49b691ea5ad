// An in-memory Glance (the GlanceApi our client implements) for unit tests of what publishes:
// images created, uploaded (the file hashed), listed by name/status/properties, shared and deleted,
// with switchable failures. The client itself is tested against a real Glance (test/openstack/).
import path from 'node:path'
import {
  createBody,
  listQuery,
  type GlanceApi,
  type Image,
  type ImageCreate,
  type ImportOptions,
  type ListFilters,
  type PatchOperation,
  type UploadOptions,
  type WaitOptions
} from '../../src/openstack/glance.js'
import { OpenStackError } from '../../src/openstack/http.js'
import { hashFile } from '../../src/util/hash.js'

/** The project our fake token is scoped to (images' owner). */
export const FAKE_GLANCE_PROJECT = 'p-ours'

export class FakeGlance implements GlanceApi {
  /** What the publish stage shows as the image's URL base. */
  readonly endpoint = 'https://glance.example/v2'
  images = new Map<string, Image>()
  calls: string[] = []
  failUpload?: Error
  /** Uploads that fail with failUpload before one succeeds (default: every one). */
  failUploads = Infinity
  /** Whether images can be created hidden (image API >= 2.7). */
  hiddenSupported = true
  /** Called as an upload starts (a token refresh mid-upload, say). */
  duringUpload?: () => void
  /** Uploads hang until their signal cancels them (a slow link that another target outlives). */
  holdUploads = false
  corruptHash = false
  /** Multi-store: the store ids it offers (undefined: a single-store Glance, /info/stores is a 404). */
  storesOffered?: string[]
  /** A store whose import fails (as all_stores_must_succeed reports it: failed, image queued again). */
  failingStore?: string
  deleteFailures = 0
  private next = 1
  private clock = Date.parse('2026-01-01T00:00:00Z')

  add(partial: Partial<Image> & { name: string }): Image {
    const id = `img-${this.next++}`
    this.clock += 60_000
    const image: Image = {
      id,
      status: 'active',
      visibility: 'private',
      protected: false,
      tags: [],
      size: 3,
      checksum: null,
      os_hash_algo: 'sha512',
      os_hash_value: 'x',
      owner: FAKE_GLANCE_PROJECT,
      created_at: new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z'),
      updated_at: new Date(this.clock).toISOString(),
      disk_format: 'qcow2',
      container_format: 'bare',
      min_disk: 0,
      min_ram: 0,
      ...partial
    }
    this.images.set(id, image)
    return image
  }
  async projectId() {
    return FAKE_GLANCE_PROJECT
  }
  async supportsHidden() {
    return this.hiddenSupported
  }
  async createImage(request: ImageCreate) {
    this.calls.push(`create ${request.name}`)
    const body = createBody(request)
    return this.add({
      ...(body as Partial<Image>),
      name: request.name,
      status: 'queued',
      size: null,
      os_hash_value: null
    })
  }
  async getImage(id: string) {
    const image = this.images.get(id)
    if (!image) throw new Error(`404 ${id}`)
    return image
  }
  async findImage(id: string) {
    return this.images.get(id)
  }
  async listImages(filters: ListFilters = {}) {
    this.calls.push(`list ${listQuery(filters)}`)
    return [...this.images.values()].filter(
      image =>
        // as Glance: hidden images are left out of lists
        image.os_hidden !== true &&
        (filters.name === undefined || image.name === filters.name) &&
        (!filters.status || image.status === filters.status) &&
        Object.entries(filters.properties ?? {}).every(([key, value]) => image[key] === value)
    )
  }
  async updateImage(id: string, operations: PatchOperation[]) {
    const image = await this.getImage(id)
    for (const operation of operations) {
      this.calls.push(
        `patch ${id} ${operation.op} ${operation.path}${'value' in operation ? ` ${JSON.stringify(operation.value)}` : ''}`
      )
      const key = operation.path.replace(/^\//, '')
      if (operation.op === 'remove') delete image[key]
      else image[key] = operation.value
    }
    return image
  }
  async deleteImage(id: string) {
    this.calls.push(`delete ${id}`)
    if (this.deleteFailures-- > 0) throw new Error('ECONNREFUSED')
    return this.images.delete(id)
  }
  members: string[] = []
  async addMember(imageId: string, projectId: string) {
    this.calls.push(`share ${imageId} ${projectId}`)
    this.members.push(projectId)
  }
  async listMembers() {
    return this.members.map(member_id => ({ member_id, status: 'pending' }))
  }
  importMethodsOffered = ['glance-direct', 'copy-image']
  async importMethods() {
    return this.importMethodsOffered
  }
  private async take(id: string, file: string, options: UploadOptions = {}) {
    this.duringUpload?.()
    if (this.holdUploads) {
      await new Promise<never>((_resolve, reject) => {
        const cancelled = (): void => {
          this.calls.push(`cancelled ${id}`)
          reject(options.signal?.reason as Error)
        }
        if (options.signal?.aborted) cancelled()
        else options.signal?.addEventListener('abort', cancelled, { once: true })
      })
    }
    if (this.failUpload && this.failUploads-- > 0) throw this.failUpload
    const digest = await hashFile(file)
    const differs = Object.entries(options.expected ?? {}).filter(
      ([key, value]) => digest[key as 'size' | 'sha256' | 'sha512'] !== value
    )
    if (differs.length > 0) {
      throw new Error(
        `upload of ${file}: expected ${JSON.stringify(options.expected)}, the file is ${JSON.stringify(digest)}`
      )
    }
    const image = await this.getImage(id)
    Object.assign(image, {
      status: 'active',
      size: digest.size,
      os_hash_algo: 'sha512',
      os_hash_value: this.corruptHash ? 'bad' : digest.sha512
    })
    this.calls.push(`upload ${id} ${path.basename(file)}`)
    return digest
  }
  uploadFile(id: string, file: string, options?: UploadOptions) {
    return this.take(id, file, options)
  }
  stageFile(id: string, file: string, options?: UploadOptions) {
    this.calls.push(`stage ${id}`)
    return this.take(id, file, options)
  }
  /** copy-image answers 403 (Glance's default policy: admins only). */
  copyForbidden = false
  async importImage(id: string, method = 'glance-direct', options: ImportOptions = {}) {
    const stores = options.stores ?? []
    this.calls.push(`import ${id} ${method}${stores.length > 0 ? ` ${stores.join(',')}` : ''}`)
    if (method === 'copy-image' && this.copyForbidden) {
      const url = `${this.endpoint}/images/${id}/import`
      throw new OpenStackError(
        `POST ${url} returned 403: Forbidden`,
        403,
        'POST',
        url,
        undefined,
        'Forbidden'
      )
    }
    if (stores.length === 0) return
    const image = await this.getImage(id)
    if (method === 'copy-image') {
      if (this.failingStore && stores.includes(this.failingStore)) {
        image.os_glance_failed_import = this.failingStore
      } else {
        image.stores = [...new Set([...String(image.stores ?? '').split(','), ...stores])]
          .filter(Boolean)
          .join(',')
      }
      return
    }
    if (this.failingStore && stores.includes(this.failingStore)) {
      Object.assign(image, { status: 'queued', os_glance_failed_import: this.failingStore })
    } else {
      image.stores = stores.join(',')
    }
  }
  async removeFromStore(id: string, store: string) {
    this.calls.push(`remove ${id} from ${store}`)
    const image = await this.getImage(id)
    const held = String(image.stores ?? '').split(',')
    if (!held.includes(store)) return false
    image.stores = held.filter(candidate => candidate !== store).join(',')
    return true
  }
  async storeIds() {
    this.calls.push('stores')
    if (!this.storesOffered) throw new Error('this Glance has no multiple stores')
    return this.storesOffered
  }
  async waitForStatus(id: string, wanted: string, options: WaitOptions = {}) {
    const image = await this.getImage(id)
    if (image.os_glance_failed_import)
      throw new Error(`import failed in ${String(image.os_glance_failed_import)}`)
    if (image.status !== wanted) throw new Error(`${id} is ${image.status}`)
    const missing = (options.untilStores ?? []).filter(
      store => !String(image.stores).split(',').includes(store)
    )
    if (missing.length > 0) throw new Error(`${id} is not in ${missing.join(', ')}`)
    return image
  }
}
