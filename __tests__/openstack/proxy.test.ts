import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { proxiedPlainHttpProblem, proxyFor, proxySecrets } from '../../src/openstack/proxy.js'

const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'].flatMap(name => [
  name,
  name.toUpperCase()
])

describe('proxyFor (proxy-from-env over process.env)', () => {
  let saved: Record<string, string | undefined>

  beforeEach(() => {
    saved = Object.fromEntries(PROXY_VARIABLES.map(name => [name, process.env[name]]))
    for (const name of PROXY_VARIABLES) delete process.env[name]
  })
  afterEach(() => {
    for (const name of PROXY_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
  })

  it('takes the variable of the scheme, lower case over upper case', () => {
    process.env.HTTPS_PROXY = 'http://upper:3128'
    process.env.https_proxy = 'http://lower:3128'
    process.env.HTTP_PROXY = 'http://plain:8080'
    expect(proxyFor(new URL('https://keystone.example:5000/v3'))?.host).toBe('lower:3128')
    expect(proxyFor(new URL('http://glance.example:9292/v2'))?.host).toBe('plain:8080')
  })

  it('does not exempt loopback by itself: only NO_PROXY does', () => {
    process.env.HTTP_PROXY = 'http://127.0.0.1:8888'
    expect(proxyFor(new URL('http://127.0.0.1:5000/v3'))?.href).toBe('http://127.0.0.1:8888/')
    process.env.NO_PROXY = 'keystone.example,127.0.0.1'
    expect(proxyFor(new URL('http://127.0.0.1:5000/v3'))).toBeUndefined()
    expect(proxyFor(new URL('http://keystone.example/v3'))).toBeUndefined()
    expect(proxyFor(new URL('http://glance.example/v2'))?.host).toBe('127.0.0.1:8888')
    process.env.NO_PROXY = '.example'
    expect(proxyFor(new URL('http://glance.example/v2'))).toBeUndefined()
    process.env.NO_PROXY = '*'
    expect(proxyFor(new URL('http://anything/'))).toBeUndefined()
  })

  it('connects directly without a proxy variable', () => {
    expect(proxyFor(new URL('https://keystone.example/v3'))).toBeUndefined()
  })
})

describe('proxiedPlainHttpProblem', () => {
  it('refuses plain http through a proxy on another machine, even to a loopback target', () => {
    const problem = proxiedPlainHttpProblem(
      new URL('http://127.0.0.1:5000/v3'),
      new URL('http://user:pw@proxy.corp:3128'),
      false
    )
    expect(problem).toMatch(
      /http:\/\/127\.0\.0\.1:5000 is plain http and the proxy http:\/\/proxy\.corp:3128/
    )
    expect(problem).not.toContain('pw')
  })

  it('lets https, a loopback proxy and allow-insecure-http through', () => {
    const far = new URL('http://proxy.corp:3128')
    expect(proxiedPlainHttpProblem(new URL('https://k.example/v3'), far, false)).toBeUndefined()
    expect(proxiedPlainHttpProblem(new URL('http://k.example/v3'), far, true)).toBeUndefined()
    expect(
      proxiedPlainHttpProblem(new URL('http://127.0.0.1:5000/v3'), new URL('http://127.0.0.1:8888'), false)
    ).toBeUndefined()
  })
})

describe('proxySecrets', () => {
  it('finds the credentials of every proxy variable, raw and decoded', () => {
    expect(
      proxySecrets({
        HTTPS_PROXY: 'http://alice:s%3Acret@proxy:3128',
        http_proxy: 'bob:hunter2@proxy:3128',
        NO_PROXY: 'user:notasecret@x'
      }).sort()
    ).toEqual(['alice', 'bob', 'hunter2', 's%3Acret', 's:cret'].sort())
    expect(proxySecrets({ HTTPS_PROXY: 'http://proxy:3128' })).toEqual([])
  })
})
