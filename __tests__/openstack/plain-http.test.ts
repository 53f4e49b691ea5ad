import { describe, expect, it } from '@jest/globals'
import { catalogEndpointProblem, isLoopbackHost, plainHttpProblem } from '../../src/openstack/plain-http.js'

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LocalHost', true],
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['[::1]', true],
    ['::1', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['localhost.example.org', false],
    ['127.0.0.1.example.org', false],
    ['[::ffff:127.0.0.1]', false],
    ['keystone.example.org', false]
  ])('%s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback)
  })
})

describe('plainHttpProblem', () => {
  it('passes https, loopback http and allowed http; refuses other http naming the setting and URL', () => {
    expect(plainHttpProblem('https://keystone.example.org/v3', 'OS_AUTH_URL', false)).toBeUndefined()
    expect(plainHttpProblem('http://127.0.0.1:5000/v3', 'OS_AUTH_URL', false)).toBeUndefined()
    expect(plainHttpProblem('http://keystone.example.org/v3', 'OS_AUTH_URL', true)).toBeUndefined()
    expect(plainHttpProblem('http://keystone.example.org/v3', 'OS_AUTH_URL', false)).toBe(
      'OS_AUTH_URL: http://keystone.example.org/v3 is plain http: credentials and tokens would cross the network unencrypted; use https, or set allow-insecure-http: true if this network is trusted'
    )
  })
})

describe('catalogEndpointProblem', () => {
  it('refuses a downgrade from an https Keystone, even to loopback, unless allowed', () => {
    expect(
      catalogEndpointProblem('http://glance.example.org:9292', 'https://k.example.org/v3', false)
    ).toMatch(
      /^the service catalog's image endpoint http:\/\/glance\.example\.org:9292 is plain http while Keystone \(https:\/\/k\.example\.org\/v3\) is https: .*allow-insecure-http: true/
    )
    expect(catalogEndpointProblem('http://127.0.0.1:9292', 'https://k.example.org/v3', false)).toMatch(
      /plain http while Keystone/
    )
    expect(
      catalogEndpointProblem('http://glance.example.org:9292', 'https://k.example.org/v3', true)
    ).toBeUndefined()
  })

  it('refuses http to another machine from an http Keystone; passes loopback and https', () => {
    expect(
      catalogEndpointProblem('http://glance.example.org:9292', 'http://127.0.0.1:5000/v3', false)
    ).toMatch(/^the service catalog's image endpoint: http:\/\/glance\.example\.org:9292 is plain http/)
    expect(catalogEndpointProblem('http://127.0.0.1:9292', 'http://127.0.0.1:5000/v3', false)).toBeUndefined()
    expect(
      catalogEndpointProblem('https://glance.example.org', 'http://127.0.0.1:5000/v3', false)
    ).toBeUndefined()
  })
})
