import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import {
  createBody,
  listQuery,
  newestApiVersion,
  verifyImage,
  type Image
} from '../../src/openstack/glance.js'
import { archImageProperties } from '../../src/openstack/publish.js'

const CONTENT = 'abc'
function sha(algo: 'sha256' | 'sha512'): string {
  return createHash(algo).update(CONTENT).digest('hex')
}

describe('glance request shapes', () => {
  it('builds the create body with container bare and string properties', () => {
    expect(
      createBody({
        name: 'n',
        diskFormat: 'qcow2',
        visibility: 'shared',
        minDisk: 2,
        minRam: 512,
        protected: false,
        tags: ['arch', 'nightly'],
        properties: archImageProperties({ firmware: 'uefi' })
      })
    ).toEqual({
      name: 'n',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'shared',
      min_disk: 2,
      min_ram: 512,
      protected: false,
      tags: ['arch', 'nightly'],
      os_distro: 'arch',
      os_type: 'linux',
      architecture: 'x86_64',
      hw_disk_bus: 'scsi',
      hw_scsi_model: 'virtio-scsi',
      hw_qemu_guest_agent: 'yes',
      hw_machine_type: 'q35',
      hw_firmware_type: 'uefi'
    })
  })

  it('repeats tag= and encodes property filters', () => {
    expect(
      listQuery({
        tags: ['a', 'b c'],
        properties: { arch_image_family: 'arch&cloud' },
        status: 'active',
        sort: 'created_at:desc'
      })
    ).toBe('?arch_image_family=arch%26cloud&status=active&tag=a&tag=b+c&sort=created_at%3Adesc')
    expect(listQuery({})).toBe('')
  })

  it('verifies size and the hash Glance used', () => {
    const image = { id: 'i', size: 3, os_hash_algo: 'sha512', os_hash_value: sha('sha512') } as Image
    const local = { size: 3, sha256: sha('sha256'), sha512: sha('sha512') }
    expect(() => verifyImage(image, local)).not.toThrow()
    expect(() => verifyImage({ ...image, size: 4 }, local)).toThrow(
      'image i: Glance stored 4 bytes, we sent 3'
    )
    expect(() => verifyImage({ ...image, os_hash_value: 'f00' }, local)).toThrow(/differs from the sha512/)
    expect(() =>
      verifyImage({ ...image, os_hash_algo: 'sha256', os_hash_value: sha('sha256') }, local)
    ).not.toThrow()
    const warnings: string[] = []
    verifyImage({ ...image, os_hash_algo: 'sha384' }, local, {
      info: () => {},
      warning: m => warnings.push(m)
    })
    expect(warnings[0]).toMatch(/sha384, which we do not compute/)
  })
})

describe('image API version (os_hidden needs 2.7)', () => {
  it('is the newest CURRENT or SUPPORTED version of the versions document', () => {
    expect(
      newestApiVersion({
        versions: [
          { id: 'v2.15', status: 'CURRENT' },
          { id: 'v2.9', status: 'SUPPORTED' },
          { id: 'v2.16', status: 'EXPERIMENTAL' },
          { id: 'v1.1', status: 'DEPRECATED' }
        ]
      })
    ).toEqual([2, 15])
    expect(newestApiVersion({ versions: [{ id: 'v2.6', status: 'CURRENT' }] })).toEqual([2, 6])
    expect(newestApiVersion({})).toBeUndefined()
    expect(newestApiVersion(null)).toBeUndefined()
  })

  it('asks Glance for os_hidden only when the image is created hidden', () => {
    expect(createBody({ name: 'a', diskFormat: 'qcow2', hidden: true }).os_hidden).toBe(true)
    expect(createBody({ name: 'a', diskFormat: 'qcow2' })).not.toHaveProperty('os_hidden')
  })
})
