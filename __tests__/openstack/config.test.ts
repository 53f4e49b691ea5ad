import { describe, expect, it } from '@jest/globals'
import {
  OpenStackConfigError,
  describeAuth,
  normaliseAuthUrl,
  resolveOpenStackSettings,
  standardConfigPaths,
  type ResolveOptions
} from '../../src/openstack/config.js'

const passwordEnv = {
  OS_AUTH_URL: 'https://keystone.example:5000/v3',
  OS_USERNAME: 'ci',
  OS_PASSWORD: 'pa55word',
  OS_PROJECT_NAME: 'images',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne'
}

const cloudsYaml = `
clouds:
  prod:
    auth:
      auth_url: https://keystone.prod.example:5000
      username: builder
      project_name: images
      user_domain_name: Users
      project_domain_id: default
    region_name: North
    interface: internal
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.prod.example:5000/v3/
      application_credential_id: 0123abcd
    regions:
      - South
      - North
    verify: false
`

const secureYaml = `
clouds:
  prod:
    auth:
      password: from-secure-yaml
  appcred:
    auth:
      application_credential_secret: s3cr3t-from-secure
`

/** Files served from a map instead of the disk. */
function files(map: Record<string, string>): Pick<ResolveOptions, 'readFile' | 'fileExists' | 'cwd'> {
  return {
    cwd: '/work',
    fileExists: file => file in map,
    readFile: file => {
      const content = map[file]
      if (content === undefined) throw new Error(`ENOENT ${file}`)
      return content
    }
  }
}

function problemsOf(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(OpenStackConfigError)
    return (error as OpenStackConfigError).problems
  }
  throw new Error('expected an OpenStackConfigError')
}

describe('resolveOpenStackSettings from OS_* variables', () => {
  it('reads password auth and masks the password', () => {
    const masked: string[] = []
    const settings = resolveOpenStackSettings(passwordEnv, { mask: secret => masked.push(secret) })
    expect(settings.auth).toEqual({
      type: 'password',
      authUrl: 'https://keystone.example:5000/v3',
      username: 'ci',
      password: 'pa55word',
      userDomainName: 'Default',
      projectName: 'images',
      projectDomainName: 'Default'
    })
    expect(settings.regionName).toBe('RegionOne')
    expect(settings.interface).toBe('public')
    expect(settings.insecure).toBe(false)
    expect(masked).toEqual(['pa55word'])
  })

  it('appends /v3 to an unversioned auth URL and defaults the domains to default', () => {
    const settings = resolveOpenStackSettings({
      OS_AUTH_URL: 'http://127.0.0.1:5000/',
      OS_USERNAME: 'ci',
      OS_PASSWORD: 'x',
      OS_PROJECT_ID: 'p1'
    })
    expect(settings.auth.authUrl).toBe('http://127.0.0.1:5000/v3')
    expect(settings.auth).toMatchObject({ userDomainId: 'default', projectId: 'p1' })
    expect(settings.auth).not.toHaveProperty('projectDomainId')
  })

  it('accepts the legacy OS_TENANT_NAME and interface spellings like publicURL', () => {
    const settings = resolveOpenStackSettings({
      ...passwordEnv,
      OS_PROJECT_NAME: undefined,
      OS_TENANT_NAME: 'legacy',
      OS_INTERFACE: 'internalURL'
    })
    expect(settings.auth).toMatchObject({ projectName: 'legacy' })
    expect(settings.interface).toBe('internal')
  })

  it('reads an application credential, masks its secret, and drops project scope with a warning', () => {
    const masked: string[] = []
    const settings = resolveOpenStackSettings(
      {
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_AUTH_URL: 'https://keystone.example/identity/v3',
        OS_APPLICATION_CREDENTIAL_ID: 'abc123',
        OS_APPLICATION_CREDENTIAL_SECRET: 'app-secret',
        OS_PROJECT_NAME: 'leftover'
      },
      { mask: secret => masked.push(secret) }
    )
    expect(settings.auth).toEqual({
      type: 'v3applicationcredential',
      authUrl: 'https://keystone.example/identity/v3',
      id: 'abc123',
      secret: 'app-secret'
    })
    expect(masked).toEqual(['app-secret'])
    expect(settings.warnings.join('\n')).toMatch(/ignoring OS_PROJECT_NAME/)
  })

  it('reads token auth (OS_AUTH_TYPE=v3token, OS_TOKEN) with its project, and masks the token', () => {
    const masked: string[] = []
    const settings = resolveOpenStackSettings(
      {
        OS_AUTH_TYPE: 'v3token',
        OS_AUTH_URL: 'https://keystone.example:5000',
        OS_TOKEN: 'gAAAAAB-given-token',
        OS_PROJECT_NAME: 'images'
      },
      { mask: secret => masked.push(secret) }
    )
    expect(settings.auth).toEqual({
      type: 'v3token',
      authUrl: 'https://keystone.example:5000/v3',
      token: 'gAAAAAB-given-token',
      projectName: 'images',
      projectDomainId: 'default'
    })
    expect(masked).toEqual(['gAAAAAB-given-token'])
    expect(describeAuth(settings)).toBe(
      'token auth (a given token), project images@default, at https://keystone.example:5000/v3'
    )
    expect(describeAuth(settings)).not.toContain('gAAAAAB')
  })

  it('guesses token auth when only OS_TOKEN is there, and wants the token when v3token is asked for', () => {
    expect(
      resolveOpenStackSettings({ OS_AUTH_URL: 'https://k/v3', OS_TOKEN: 't0k', OS_PROJECT_ID: 'p1' }).auth
    ).toEqual({ type: 'v3token', authUrl: 'https://k/v3', token: 't0k', projectId: 'p1' })
    expect(
      problemsOf(() => resolveOpenStackSettings({ OS_AUTH_URL: 'https://k/v3', OS_AUTH_TYPE: 'v3token' }))
    ).toEqual(['token auth needs OS_TOKEN or auth.token in clouds.yaml'])
  })

  it('masks the user and password of a proxy URL in the environment', () => {
    const masked: string[] = []
    resolveOpenStackSettings(
      { ...passwordEnv, https_proxy: 'http://proxyuser:p%40ss@proxy.example:3128', HTTP_PROXY: 'proxy:3128' },
      { mask: secret => masked.push(secret) }
    )
    expect(masked).toEqual(['pa55word', 'p%40ss', 'p@ss', 'proxyuser'])
  })

  it('guesses application-credential auth when only a credential secret is present', () => {
    const settings = resolveOpenStackSettings({
      OS_AUTH_URL: 'https://k/v3',
      OS_APPLICATION_CREDENTIAL_NAME: 'ci',
      OS_APPLICATION_CREDENTIAL_SECRET: 's',
      OS_USERNAME: 'builder',
      OS_USER_DOMAIN_NAME: 'Users'
    })
    expect(settings.auth).toEqual({
      type: 'v3applicationcredential',
      authUrl: 'https://k/v3',
      name: 'ci',
      secret: 's',
      username: 'builder',
      userDomainName: 'Users'
    })
  })

  it('lets explicit options win over the environment', () => {
    const settings = resolveOpenStackSettings(
      { ...passwordEnv, OS_INTERFACE: 'admin', OS_INSECURE: 'false' },
      { region: 'West', interface: 'internal', insecure: true, imageEndpoint: 'https://glance.example:9292' }
    )
    expect(settings).toMatchObject({
      regionName: 'West',
      interface: 'internal',
      insecure: true,
      imageEndpoint: 'https://glance.example:9292'
    })
  })

  it('masks every secret it reads, even one the auth type does not use', () => {
    const masked: string[] = []
    resolveOpenStackSettings(
      { ...passwordEnv, OS_APPLICATION_CREDENTIAL_SECRET: 'unused-secret' },
      { mask: secret => masked.push(secret) }
    )
    expect(masked.sort()).toEqual(['pa55word', 'unused-secret'])
  })
})

describe('resolveOpenStackSettings from clouds.yaml', () => {
  it('reads a cloud from content, merges secure.yaml and masks its password', () => {
    const masked: string[] = []
    const settings = resolveOpenStackSettings(
      {},
      { cloudsYaml: cloudsYaml, secureYaml: secureYaml, cloud: 'prod', mask: secret => masked.push(secret) }
    )
    expect(settings.cloud).toBe('prod')
    expect(settings.auth).toEqual({
      type: 'password',
      authUrl: 'https://keystone.prod.example:5000/v3',
      username: 'builder',
      password: 'from-secure-yaml',
      userDomainName: 'Users',
      projectName: 'images',
      projectDomainId: 'default'
    })
    expect(settings.regionName).toBe('North')
    expect(settings.interface).toBe('internal')
    expect(masked).toEqual(['from-secure-yaml'])
  })

  it('reads auth_type: v3token with auth: {token} and masks the token', () => {
    const masked: string[] = []
    const settings = resolveOpenStackSettings(
      {},
      {
        cloud: 'tok',
        cloudsYaml:
          'clouds:\n  tok:\n    auth_type: v3token\n    auth:\n      auth_url: https://k.example/v3\n' +
          '      token: gAAAA-from-yaml\n      project_id: p9\n',
        mask: secret => masked.push(secret)
      }
    )
    expect(settings.auth).toEqual({
      type: 'v3token',
      authUrl: 'https://k.example/v3',
      token: 'gAAAA-from-yaml',
      projectId: 'p9'
    })
    expect(masked).toEqual(['gAAAA-from-yaml'])
  })

  it('reads files by path, takes the first of regions and turns verify: false into insecure', () => {
    const settings = resolveOpenStackSettings(
      { OS_CLOUD: 'appcred' },
      {
        cloudsYaml: 'conf/clouds.yaml',
        secureYaml: '/secrets/secure.yaml',
        ...files({ '/work/conf/clouds.yaml': cloudsYaml, '/secrets/secure.yaml': secureYaml })
      }
    )
    expect(settings.auth).toEqual({
      type: 'v3applicationcredential',
      authUrl: 'https://keystone.prod.example:5000/v3',
      id: '0123abcd',
      secret: 's3cr3t-from-secure'
    })
    expect(settings.regionName).toBe('South')
    expect(settings.insecure).toBe(true)
  })

  it('finds clouds.yaml and secure.yaml where openstackclient looks when only a cloud name is given', () => {
    const settings = resolveOpenStackSettings(
      { OS_CLOUD: 'prod', HOME: '/home/runner' },
      files({
        '/home/runner/.config/openstack/clouds.yaml': cloudsYaml,
        '/etc/openstack/secure.yaml': secureYaml
      })
    )
    expect(settings.auth).toMatchObject({ username: 'builder', password: 'from-secure-yaml' })
    expect(standardConfigPaths('clouds', { OS_CLIENT_CONFIG_FILE: '/x.yaml', HOME: '/h' }, '/w')).toEqual([
      '/x.yaml',
      '/w/clouds.yaml',
      '/h/.config/openstack/clouds.yaml',
      '/etc/openstack/clouds.yaml'
    ])
  })

  it('lets OS_* variables override single fields of the cloud, as openstack --os-cloud does', () => {
    const settings = resolveOpenStackSettings(
      { OS_PASSWORD: 'from-env', OS_REGION_NAME: 'East' },
      { cloudsYaml, cloud: 'prod' }
    )
    expect(settings.auth).toMatchObject({ password: 'from-env' })
    expect(settings.regionName).toBe('East')
  })

  it('names the cloud and what the file has when the cloud is missing', () => {
    expect(problemsOf(() => resolveOpenStackSettings({}, { cloudsYaml, cloud: 'staging' }))).toEqual([
      "cloud 'staging' is not in clouds-yaml (it has: prod, appcred)"
    ])
  })

  it('says where the password may come from when clouds.yaml has none', () => {
    const problems = problemsOf(() => resolveOpenStackSettings({}, { cloudsYaml, cloud: 'prod' }))
    expect(problems).toEqual(['password auth needs OS_PASSWORD or auth.password in clouds.yaml'])
  })

  it('refuses clouds-yaml without a cloud name, a missing file, bad YAML and vendor profiles', () => {
    expect(problemsOf(() => resolveOpenStackSettings({}, { cloudsYaml }))[0]).toMatch(
      /clouds-yaml was given without a cloud name/
    )
    expect(
      problemsOf(() => resolveOpenStackSettings({}, { cloudsYaml: 'nope.yaml', cloud: 'x', ...files({}) }))[0]
    ).toBe("clouds-yaml: no such file /work/nope.yaml (give the file's content or its path)")
    expect(
      problemsOf(() => resolveOpenStackSettings({}, { cloudsYaml: 'clouds:\n  a: [\n', cloud: 'a' }))[0]
    ).toMatch(/clouds-yaml is not valid YAML/)
    expect(
      problemsOf(() =>
        resolveOpenStackSettings({}, { cloudsYaml: 'clouds:\n  v:\n    profile: vexxhost\n', cloud: 'v' })
      )[0]
    ).toMatch(/vendor profiles .* are not supported/)
  })

  it('finds no clouds.yaml anywhere and says where it looked', () => {
    const problems = problemsOf(() => resolveOpenStackSettings({ OS_CLOUD: 'prod', HOME: '/h' }, files({})))
    expect(problems[0]).toMatch(
      /^cloud 'prod' was asked for but no clouds.yaml was given \(clouds-yaml\) or found in/
    )
    expect(problems[0]).toContain('/etc/openstack/clouds.yaml')
  })
})

describe('resolveOpenStackSettings errors', () => {
  it('reports every problem at once, naming the setting and what is accepted', () => {
    const problems = problemsOf(() =>
      resolveOpenStackSettings({ OS_AUTH_TYPE: 'password', OS_INTERFACE: 'private', OS_INSECURE: 'maybe' })
    )
    expect(problems).toEqual([
      'the Keystone URL is missing: set OS_AUTH_URL or auth.auth_url in clouds.yaml',
      'password auth needs a user: set OS_USERNAME or auth.username in clouds.yaml or OS_USER_ID or auth.user_id in clouds.yaml',
      'password auth needs OS_PASSWORD or auth.password in clouds.yaml',
      'password auth needs a project to scope the token to (images belong to a project): set OS_PROJECT_NAME or auth.project_name in clouds.yaml or OS_PROJECT_ID or auth.project_id in clouds.yaml',
      "OS_INTERFACE must be public, internal or admin, not 'private'",
      "OS_INSECURE must be true or false, not 'maybe'"
    ])
  })

  it('rejects unknown auth types and Keystone v2 URLs', () => {
    expect(problemsOf(() => resolveOpenStackSettings({ ...passwordEnv, OS_AUTH_TYPE: 'v3oidc' }))).toEqual([
      "OS_AUTH_TYPE 'v3oidc' is not supported: use password, v3applicationcredential or v3token"
    ])
    expect(
      problemsOf(() => resolveOpenStackSettings({ ...passwordEnv, OS_AUTH_URL: 'http://k:5000/v2.0' }))[0]
    ).toMatch(/OS_AUTH_URL points at Keystone v2/)
  })

  it('wants an id, or a name with its user, for an application credential', () => {
    expect(
      problemsOf(() =>
        resolveOpenStackSettings({
          OS_AUTH_URL: 'https://k/v3',
          OS_AUTH_TYPE: 'v3applicationcredential',
          OS_APPLICATION_CREDENTIAL_NAME: 'ci'
        })
      )
    ).toEqual([
      'application credential auth needs OS_APPLICATION_CREDENTIAL_SECRET or auth.application_credential_secret in clouds.yaml',
      'an application credential given by name needs its user: set OS_USERNAME or auth.username in clouds.yaml or OS_USER_ID or auth.user_id in clouds.yaml'
    ])
  })

  it('checks that a cacert exists and that the image endpoint is a URL', () => {
    const problems = problemsOf(() =>
      resolveOpenStackSettings(passwordEnv, { cacert: 'ca.pem', imageEndpoint: 'glance:9292', ...files({}) })
    )
    expect(problems).toEqual([
      'cacert: no such file /work/ca.pem',
      "image-endpoint must be an http(s) URL, not 'glance:9292'"
    ])
  })
})

describe('plain http', () => {
  const remote = 'http://keystone.example.org:5000/v3'

  it('refuses an OS_AUTH_URL on another machine, naming the variable, the URL and how to allow it', () => {
    expect(problemsOf(() => resolveOpenStackSettings({ ...passwordEnv, OS_AUTH_URL: remote }))).toEqual([
      `OS_AUTH_URL: ${remote} is plain http: credentials and tokens would cross the network unencrypted; use https, or set allow-insecure-http: true if this network is trusted`
    ])
  })

  it("refuses a clouds.yaml auth_url, naming the file's entry", () => {
    const yaml =
      'clouds:\n  c:\n    auth:\n      auth_url: http://10.0.0.5:5000\n      username: u\n      password: p\n      project_name: x\n'
    expect(problemsOf(() => resolveOpenStackSettings({}, { cloud: 'c', cloudsYaml: yaml }))[0]).toMatch(
      /^auth\.auth_url in clouds-yaml \(cloud 'c'\): http:\/\/10\.0\.0\.5:5000 is plain http: .* allow-insecure-http: true/
    )
  })

  it('refuses an http image endpoint override on another machine (input or OS_IMAGE_ENDPOINT_OVERRIDE)', () => {
    expect(
      problemsOf(() => resolveOpenStackSettings(passwordEnv, { imageEndpoint: 'http://glance.example:9292' }))
    ).toEqual([expect.stringMatching(/^image-endpoint: http:\/\/glance\.example:9292 is plain http/)])
    expect(
      problemsOf(() =>
        resolveOpenStackSettings({ ...passwordEnv, OS_IMAGE_ENDPOINT_OVERRIDE: 'http://glance.example:9292' })
      )
    ).toEqual([expect.stringMatching(/^OS_IMAGE_ENDPOINT_OVERRIDE: http:\/\/glance\.example:9292 is plain/)])
  })

  it.each([
    'http://127.0.0.1:5000/v3',
    'http://127.8.9.10:5000',
    'http://localhost:5000/v3',
    'http://LOCALHOST/identity',
    'http://[::1]:5000/v3'
  ])('accepts the loopback address %s', url => {
    const settings = resolveOpenStackSettings({ ...passwordEnv, OS_AUTH_URL: url }, { imageEndpoint: url })
    expect(settings.allowInsecureHttp).toBe(false)
  })

  it.each(['http://128.0.0.1:5000', 'http://localhost.example.org', 'http://[::2]:5000', 'http://0.0.0.0'])(
    'refuses %s, which is not loopback',
    url => {
      expect(problemsOf(() => resolveOpenStackSettings({ ...passwordEnv, OS_AUTH_URL: url }))).toHaveLength(1)
    }
  )

  it('accepts any http URL with allowInsecureHttp, and keeps the choice for the catalog check', () => {
    const settings = resolveOpenStackSettings(
      { ...passwordEnv, OS_AUTH_URL: remote },
      { imageEndpoint: 'http://glance.example:9292', allowInsecureHttp: true }
    )
    expect(settings.auth.authUrl).toBe(remote)
    expect(settings.allowInsecureHttp).toBe(true)
  })
})

describe('normaliseAuthUrl and describeAuth', () => {
  it.each([
    ['https://k:5000', 'https://k:5000/v3'],
    ['https://k:5000/v3/', 'https://k:5000/v3'],
    ['https://k/identity', 'https://k/identity/v3'],
    ['https://k/identity/v3?x=1', 'https://k/identity/v3']
  ])('%s -> %s', (input, output) => {
    expect(normaliseAuthUrl(input)).toBe(output)
  })

  it('refuses credentials in the URL', () => {
    expect(() => normaliseAuthUrl('https://u:p@k/v3')).toThrow(/must not carry credentials/)
  })

  it('describes who authenticates without the secret', () => {
    const settings = resolveOpenStackSettings(passwordEnv)
    expect(describeAuth(settings)).toBe(
      'password auth as ci@Default, project images@Default, at https://keystone.example:5000/v3'
    )
    expect(describeAuth(settings)).not.toContain('pa55word')
  })
})
