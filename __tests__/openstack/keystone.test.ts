import { describe, expect, it } from '@jest/globals'
import type { OpenStackSettings } from '../../src/openstack/config.js'
import type { HttpClient } from '../../src/openstack/http.js'
import {
  applicationCredentialAuthBody,
  findEndpoint,
  normaliseImageEndpoint,
  KeystoneSession,
  passwordAuthBody,
  tokenAuthBody,
  type CatalogService
} from '../../src/openstack/keystone.js'

describe('normaliseImageEndpoint', () => {
  it.each([
    ['http://127.0.0.1:9292', 'http://127.0.0.1:9292/v2'],
    ['http://127.0.0.1:9292/', 'http://127.0.0.1:9292/v2'],
    ['http://127.0.0.1:9292/v2', 'http://127.0.0.1:9292/v2'],
    ['http://127.0.0.1:9292/v2/', 'http://127.0.0.1:9292/v2'],
    ['https://cloud.example/image', 'https://cloud.example/image/v2'],
    ['https://cloud.example/image/v2.15/', 'https://cloud.example/image/v2'],
    ['https://cloud.example:443/image/v1', 'https://cloud.example/image/v2']
  ])('%s -> %s', (input, output) => {
    expect(normaliseImageEndpoint(input)).toBe(output)
  })

  it('refuses what is not an http(s) URL', () => {
    expect(() => normaliseImageEndpoint('ftp://glance')).toThrow(/must be an http\(s\) URL/)
    expect(() => normaliseImageEndpoint('glance:9292/v2')).toThrow()
  })
})

const catalog: CatalogService[] = [
  {
    type: 'identity',
    name: 'keystone',
    endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'http://k/v3' }]
  },
  {
    type: 'image',
    name: 'glance',
    endpoints: [
      { interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: 'https://glance.one' },
      {
        interface: 'internal',
        region_id: 'RegionOne',
        region: 'RegionOne',
        url: 'http://glance.one.internal:9292'
      },
      { interface: 'public', region_id: 'RegionTwo', region: 'RegionTwo', url: 'https://glance.two/v2/' }
    ]
  }
]

describe('findEndpoint', () => {
  it('picks by interface and region', () => {
    expect(findEndpoint(catalog, 'image', 'public', 'RegionOne')).toBe('https://glance.one')
    expect(findEndpoint(catalog, 'image', 'internal', 'RegionOne')).toBe('http://glance.one.internal:9292')
    expect(findEndpoint(catalog, 'image', 'public', 'RegionTwo')).toBe('https://glance.two/v2/')
  })

  it('takes the first match when no region is given', () => {
    expect(findEndpoint(catalog, 'image', 'public')).toBe('https://glance.one')
  })

  it('says what the catalog offers when nothing matches', () => {
    expect(() => findEndpoint(catalog, 'image', 'admin', 'RegionOne')).toThrow(
      "the 'image' service has no admin endpoint in region RegionOne (it has: public@RegionOne, internal@RegionOne, public@RegionTwo)"
    )
    expect(() => findEndpoint(catalog, 'object-store', 'public')).toThrow(
      "the service catalog has no 'object-store' service (it has: identity, image)"
    )
  })
})

describe('auth request bodies', () => {
  it('scopes a password token to the project', () => {
    expect(
      passwordAuthBody({
        type: 'password',
        authUrl: 'http://k/v3',
        username: 'ci',
        userDomainName: 'Default',
        password: 'pw',
        projectName: 'demo',
        projectDomainId: 'default'
      })
    ).toEqual({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'ci', domain: { name: 'Default' }, password: 'pw' } }
        },
        scope: { project: { name: 'demo', domain: { id: 'default' } } }
      }
    })
  })

  it('asks for no scope with an application credential', () => {
    expect(
      applicationCredentialAuthBody({
        type: 'v3applicationcredential',
        authUrl: 'http://k/v3',
        id: 'ac',
        secret: 's'
      })
    ).toEqual({
      auth: {
        identity: { methods: ['application_credential'], application_credential: { id: 'ac', secret: 's' } }
      }
    })
    expect(
      applicationCredentialAuthBody({
        type: 'v3applicationcredential',
        authUrl: 'http://k/v3',
        name: 'ci',
        secret: 's',
        userId: 'u1'
      })
    ).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { name: 'ci', secret: 's', user: { id: 'u1' } }
        }
      }
    })
  })

  it('trades a given token, scoped to the project when one is given', () => {
    expect(tokenAuthBody({ type: 'v3token', authUrl: 'http://k/v3', token: 'gAAA' })).toEqual({
      auth: { identity: { methods: ['token'], token: { id: 'gAAA' } } }
    })
    expect(
      tokenAuthBody({
        type: 'v3token',
        authUrl: 'http://k/v3',
        token: 'gAAA',
        projectName: 'images',
        projectDomainId: 'default'
      })
    ).toEqual({
      auth: {
        identity: { methods: ['token'], token: { id: 'gAAA' } },
        scope: { project: { name: 'images', domain: { id: 'default' } } }
      }
    })
  })
})

describe('KeystoneSession.imageEndpoint (what the openstack stage asks) with a catalog', () => {
  function session(authUrl: string, imageUrl: string, allowInsecureHttp?: boolean): KeystoneSession {
    const catalog: CatalogService[] = [
      {
        type: 'image',
        name: 'glance',
        endpoints: [{ interface: 'public', region_id: 'RegionOne', url: imageUrl }]
      }
    ]
    const http = {
      request: async () => ({
        status: 201,
        headers: { 'x-subject-token': 'token' },
        text: JSON.stringify({
          token: { expires_at: new Date(Date.now() + 3_600_000).toISOString(), user: { id: 'u' }, catalog }
        })
      })
    } as unknown as HttpClient
    const settings: OpenStackSettings = {
      auth: { type: 'password', authUrl, username: 'u', password: 'p', projectName: 'x' },
      interface: 'public',
      insecure: false,
      warnings: [],
      ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp })
    }
    return new KeystoneSession(settings, http)
  }

  it('refuses an https Keystone whose catalog gives an http Glance', async () => {
    await expect(
      session('https://k.example.org/v3', 'http://glance.example.org:9292').imageEndpoint()
    ).rejects.toThrow(
      /image endpoint http:\/\/glance\.example\.org:9292 is plain http while Keystone \(https:\/\/k\.example\.org\/v3\) is https/
    )
  })

  it('uses it with allow-insecure-http, and an https or loopback one without', async () => {
    await expect(
      session('https://k.example.org/v3', 'http://glance.example.org:9292', true).imageEndpoint()
    ).resolves.toBe('http://glance.example.org:9292/v2')
    await expect(
      session('https://k.example.org/v3', 'https://glance.example.org/image').imageEndpoint()
    ).resolves.toBe('https://glance.example.org/image/v2')
    await expect(session('http://127.0.0.1:5000/v3', 'http://127.0.0.1:9292').imageEndpoint()).resolves.toBe(
      'http://127.0.0.1:9292/v2'
    )
  })
})
