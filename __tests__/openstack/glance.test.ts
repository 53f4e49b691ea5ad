import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import type { HttpClient, HttpRequest, HttpResponse } from '../../src/openstack/http.js'
import type { TokenSource } from '../../src/openstack/keystone.js'
import { MemoryLog } from '../../test/support/log.js'
import {
  createBody,
  Glance,
  importBody,
  listQuery,
  storeList,
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

/** A Glance client over canned answers: each request takes the next answer for its method and path. */
function scripted(answers: Record<string, [number, unknown][]>): {
  glance: Glance
  sent: HttpRequest[]
  log: MemoryLog
} {
  const sent: HttpRequest[] = []
  const http = {
    send: async (request: HttpRequest): Promise<HttpResponse> => {
      sent.push(request)
      const key = `${request.method} ${new URL(request.url).pathname}`
      const next = answers[key]?.shift()
      if (!next) throw new Error(`unexpected ${key}`)
      return { status: next[0], headers: {}, text: JSON.stringify(next[1]) }
    }
  } as unknown as HttpClient
  const auth: TokenSource = {
    token: async () => 'tok',
    reauthenticate: async () => 'tok2',
    projectId: async () => 'p'
  }
  const log = new MemoryLog()
  return { glance: new Glance(auth, 'http://glance.test/v2', http, log), sent, log }
}

const image = (extra: Record<string, unknown>): Record<string, unknown> => ({ id: 'i1', ...extra })

describe('multi-store import', () => {
  it('asks for every store with all_stores_must_succeed; no stores, the plain body', () => {
    expect(importBody('glance-direct', { stores: ['fast', 'slow'] })).toEqual({
      method: { name: 'glance-direct' },
      stores: ['fast', 'slow'],
      all_stores_must_succeed: true
    })
    expect(importBody('glance-direct')).toEqual({ method: { name: 'glance-direct' } })
    expect(storeList(' fast, slow ,')).toEqual(['fast', 'slow'])
    expect(storeList(undefined)).toEqual([])
  })

  it('POSTs the import and reads the store ids; a Glance without stores is a clear error', async () => {
    const { glance, sent } = scripted({
      'POST /v2/images/i1/import': [[202, '']],
      'GET /v2/info/stores': [
        [
          200,
          {
            stores: [
              { id: 'fast', default: 'true' },
              { id: 'slow', description: 'cold' }
            ]
          }
        ],
        [404, { error: 'Multi backend is not supported at this site.' }]
      ]
    })
    await glance.importImage('i1', 'glance-direct', { stores: ['fast', 'slow'] })
    expect(sent[0]?.json).toEqual({
      method: { name: 'glance-direct' },
      stores: ['fast', 'slow'],
      all_stores_must_succeed: true
    })
    expect(await glance.storeIds()).toEqual(['fast', 'slow'])
    await expect(glance.storeIds()).rejects.toThrow(/has no multiple stores \(GET \/v2\/info\/stores: 404/)
  })

  it('polls, logging the stores still importing, until active', async () => {
    const { glance, log } = scripted({
      'GET /v2/images/i1': [
        [200, image({ status: 'importing', os_glance_importing_to_stores: 'fast,slow' })],
        [200, image({ status: 'importing', os_glance_importing_to_stores: 'slow' })],
        [200, image({ status: 'active', os_glance_importing_to_stores: '', stores: 'fast,slow' })]
      ]
    })
    const done = await glance.waitForStatus('i1', 'active', { intervalMs: 1 })
    expect(done.stores).toBe('fast,slow')
    expect(log.lines.filter(line => /being imported/.test(line))).toEqual([
      expect.stringMatching(/image i1 is being imported to fast, slow \(importing\)$/),
      expect.stringMatching(/image i1 is being imported to slow \(importing\)$/)
    ])
  })

  it('fails at once on a store in os_glance_failed_import, and on an image queued again after importing', async () => {
    const failed = scripted({
      'GET /v2/images/i1': [
        [200, image({ status: 'importing', os_glance_importing_to_stores: 'fast,slow' })],
        [200, image({ status: 'queued', os_glance_failed_import: 'slow' })]
      ]
    })
    await expect(failed.glance.waitForStatus('i1', 'active', { intervalMs: 1 })).rejects.toThrow(
      'the import of image i1 failed in store(s) slow (os_glance_failed_import); status queued'
    )
    const requeued = scripted({
      'GET /v2/images/i1': [
        [200, image({ status: 'importing' })],
        [200, image({ status: 'queued' })]
      ]
    })
    await expect(requeued.glance.waitForStatus('i1', 'active', { intervalMs: 1 })).rejects.toThrow(
      'the import of image i1 failed: the image is queued again'
    )
  })
})
