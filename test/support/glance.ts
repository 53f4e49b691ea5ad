// An in-memory Glance (the GlanceApi our client implements) for unit tests of the stages that
// publish: images created, uploaded, listed and deleted; `failUpload` makes the next upload fail.
// The client itself is tested against a real Glance (test/openstack/).
import type { GlanceApi, Image, ImageCreate, LocalDigest, UploadOptions } from '../../src/openstack/glance.js'
import { hashFile } from '../../src/util/hash.js'

export class MemoryGlance implements GlanceApi {
  readonly endpoint = 'https://glance.example/v2'
  readonly images = new Map<string, Image>()
  readonly calls: string[] = []
  failUpload?: Error
  /** Called once an upload has started (a token refresh mid-upload, say). */
  duringUpload?: () => void
  private next = 1

  async createImage(request: ImageCreate): Promise<Image> {
    const id = `image-${this.next++}`
    this.calls.push(`create ${id}`)
    const now = new Date().toISOString()
    const image: Image = {
      ...request.properties,
      id,
      name: request.name,
      status: 'queued',
      visibility: request.visibility ?? 'private',
      protected: request.protected ?? false,
      tags: request.tags ?? [],
      size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      owner: 'project-1',
      created_at: now,
      updated_at: now,
      disk_format: request.diskFormat,
      container_format: request.containerFormat ?? 'bare',
      min_disk: request.minDisk ?? 0,
      min_ram: request.minRam ?? 0
    }
    this.images.set(id, image)
    return image
  }
  async getImage(id: string): Promise<Image> {
    const image = this.images.get(id)
    if (!image) throw new Error(`no image ${id}`)
    return image
  }
  async findImage(id: string): Promise<Image | undefined> {
    return this.images.get(id)
  }
  async listImages(): Promise<Image[]> {
    return [...this.images.values()]
  }
  async updateImage(id: string): Promise<Image> {
    return this.getImage(id)
  }
  async deleteImage(id: string): Promise<boolean> {
    this.calls.push(`delete ${id}`)
    return this.images.delete(id)
  }
  async addMember(): Promise<void> {}
  async listMembers(): Promise<{ member_id: string; status: string }[]> {
    return []
  }
  async importMethods(): Promise<string[]> {
    return ['glance-direct']
  }
  async uploadFile(id: string, file: string, _options?: UploadOptions): Promise<LocalDigest> {
    this.calls.push(`upload ${id}`)
    this.duringUpload?.()
    if (this.failUpload) throw this.failUpload
    const digest = await hashFile(file)
    Object.assign(await this.getImage(id), {
      status: 'active',
      size: digest.size,
      os_hash_algo: 'sha512',
      os_hash_value: digest.sha512
    })
    return digest
  }
  async stageFile(id: string, file: string, options?: UploadOptions): Promise<LocalDigest> {
    return this.uploadFile(id, file, options)
  }
  async importImage(): Promise<void> {}
  async waitForStatus(id: string): Promise<Image> {
    return this.getImage(id)
  }
  async projectId(): Promise<string | undefined> {
    return 'project-1'
  }
}
