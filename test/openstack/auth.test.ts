// Authentication against a real Keystone, and Glance found through its catalog: password and
// application credentials, from OS_* and from clouds.yaml; wrong credentials; a token revoked mid-run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveOpenStackSettings, type ResolveOptions } from '../../src/openstack/config.js'
import { connectGlance, type GlanceConnection } from '../../src/openstack/glance.js'
import { OpenStackError } from '../../src/openstack/http.js'
import { keystoneAccess } from '../../src/openstack/keystone.js'
import { deleteUnsettledImage, deleteWithStoredToken, publishImage } from '../../src/openstack/publish.js'
import {
  appCredentialEnv,
  expectNoSecrets,
  keystoneAccepts,
  memberEnv,
  recordingLog,
  revokeToken,
  startHarness,
  stopHarness,
  type HarnessEnv,
  type RecordingLog
} from './harness.js'

let h: HarnessEnv
let dir: string
const logs: string[] = []
const recorders: RecordingLog[] = []
const secrets: string[] = []
const connections: GlanceConnection[] = []

async function connect(env: Record<string, string>, options: ResolveOptions = {}) {
  const log = recordingLog()
  const masked: string[] = []
  const settings = resolveOpenStackSettings(env, {
    cwd: dir,
    ...options,
    mask: secret => masked.push(secret)
  })
  const connection = await connectGlance(settings, log)
  connections.push(connection)
  recorders.push(log)
  secrets.push(await connection.session.token())
  return { ...connection, log, masked, settings }
}

async function revoke(token: string): Promise<void> {
  await revokeToken(h, token)
}

beforeAll(async () => {
  h = await startHarness()
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-auth-'))
  secrets.push(h.member.password, h.admin.password, h.appCredential.secret)
}, 180_000)

afterAll(async () => {
  for (const connection of connections) connection.close()
  rmSync(dir, { recursive: true, force: true })
  await stopHarness()
}, 60_000)

describe('Keystone auth and the image endpoint', () => {
  it('authenticates with a password from OS_* and finds Glance (registered without /v2) in the catalog', async () => {
    const { glance, session, masked, log } = await connect(memberEnv(h))
    expect(glance.endpoint).toBe(`${h.glanceUrl}/v2`)
    expect(masked).toEqual([h.member.password])
    expect(await session.projectId()).toBe(h.member.projectId)
    expect(session.tokenExpiry()?.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000)
    expect(Array.isArray(await glance.listImages({ limit: 5 }))).toBe(true)
    expect(log.lines[0]).toMatch(
      /^Keystone: authenticated as member in project demo \(password\), token valid until /
    )
  })

  it('authenticates with an application credential from OS_* (no scope asked)', async () => {
    const { glance, session, masked } = await connect(appCredentialEnv(h))
    expect(masked).toEqual([h.appCredential.secret])
    expect(await session.projectId()).toBe(h.member.projectId)
    expect(await glance.importMethods()).toContain('glance-direct')
  })

  it('authenticates from a clouds.yaml file with the password in secure.yaml, the cloud from OS_CLOUD', async () => {
    writeFileSync(
      path.join(dir, 'clouds.yaml'),
      [
        'clouds:',
        '  harness:',
        '    auth:',
        `      auth_url: ${h.authUrl.replace(/\/v3$/, '')}`,
        '      username: member',
        '      project_name: demo',
        '      user_domain_name: Default',
        '      project_domain_name: Default',
        `    region_name: ${h.region}`,
        '    interface: public',
        '    identity_api_version: 3',
        ''
      ].join('\n')
    )
    writeFileSync(
      path.join(dir, 'secure.yaml'),
      `clouds:\n  harness:\n    auth:\n      password: ${JSON.stringify(h.member.password)}\n`
    )
    const { glance, settings, masked } = await connect(
      { OS_CLOUD: 'harness' },
      { cloudsYaml: 'clouds.yaml', secureYaml: 'secure.yaml' }
    )
    expect(settings.cloud).toBe('harness')
    expect(masked).toEqual([h.member.password])
    expect(glance.endpoint).toBe(`${h.glanceUrl}/v2`)
  })

  it('authenticates from clouds.yaml content with an application credential', async () => {
    const cloudsYaml = [
      'clouds:',
      '  ci:',
      '    auth_type: v3applicationcredential',
      '    auth:',
      `      auth_url: ${h.authUrl}`,
      `      application_credential_id: ${h.appCredential.id}`,
      `      application_credential_secret: ${JSON.stringify(h.appCredential.secret)}`,
      `    region_name: ${h.region}`,
      ''
    ].join('\n')
    const { session, masked } = await connect({}, { cloudsYaml, cloud: 'ci' })
    expect(masked).toEqual([h.appCredential.secret])
    expect(await session.projectId()).toBe(h.member.projectId)
  })

  it('uses an explicit image endpoint instead of the catalog', async () => {
    const { glance } = await connect(memberEnv(h), { imageEndpoint: `${h.glanceUrl}/v2/` })
    expect(glance.endpoint).toBe(`${h.glanceUrl}/v2`)
  })

  it('fails clearly on a wrong password, and creates no image', async () => {
    const log = recordingLog()
    const settings = resolveOpenStackSettings({ ...memberEnv(h), OS_PASSWORD: 'not-the-password' })
    const error = await connectGlance(settings, log).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OpenStackError)
    const message = (error as Error).message
    expect(message).toMatch(
      /^Keystone refused the credentials \(password auth as member@Default, project demo@Default, at http:\/\/127\.0\.0\.1:\d+\/v3\): The request you have made requires authentication\. — check the user, password, domains and project \(request req-[0-9a-f-]+\)$/
    )
    expect(message).not.toContain('not-the-password')
    expect((error as OpenStackError).status).toBe(401)
    // and nothing was created on the way
    const { glance } = await connect(memberEnv(h))
    expect(await glance.listImages({ name: 'never-created' })).toEqual([])
    logs.push(message)
    recorders.push(log)
  })

  it('fails clearly on an unknown application credential', async () => {
    const settings = resolveOpenStackSettings({
      ...appCredentialEnv(h),
      OS_APPLICATION_CREDENTIAL_ID: 'ffffffffffffffffffffffffffffffff'
    })
    const error = (await connectGlance(settings, recordingLog()).catch((caught: unknown) => caught)) as Error
    expect(error.message).toMatch(
      /^Keystone refused the credentials \(application credential f{32} at .*\): Could not find Application Credential: f{32}\./
    )
    logs.push(error.message)
  })

  it('re-authenticates once when Glance refuses a token revoked mid-run', async () => {
    const { glance, session, log } = await connect(memberEnv(h))
    const first = await session.token()
    await glance.listImages({ limit: 1 })
    await revoke(first)
    await glance.listImages({ limit: 1 })
    const second = await session.token()
    secrets.push(second)
    expect(second).not.toBe(first)
    expect(log.lines.join('\n')).toMatch(
      /Glance refused the token \(401 on GET \/images\); re-authenticating/
    )

    // an upload gets the same treatment: revoked between create and upload, refused before any data
    // is kept, then sent again
    const file = path.join(dir, 'small.raw')
    writeFileSync(file, Buffer.alloc(1024 * 1024, 7))
    const result = await publishImage({
      glance,
      log,
      file,
      name: 'auth-revoked',
      family: 'auth-test',
      diskFormat: 'raw',
      onCreated: async () => revoke(await session.token())
    })
    expect(result.image.status).toBe('active')
    secrets.push(await session.token())
    expect(log.lines.join('\n')).toMatch(/Glance refused the token for the upload of .*; re-authenticating/)
    await glance.deleteImage(result.image.id)
  })

  it('gets a fresh token before an upload the current one might not outlive', async () => {
    const { glance, session, log } = await connect(memberEnv(h))
    const before = await session.token()
    const image = await glance.createImage({ name: 'auth-long-upload', diskFormat: 'raw' })
    try {
      const file = path.join(dir, 'slow.raw')
      writeFileSync(file, Buffer.alloc(1024 * 1024, 1))
      // at the assumed 0.0002 MiB/s, 1 MiB takes ~83 min: longer than the token's hour
      await glance.uploadFile(image.id, file, { assumedMiBPerSecond: 0.0002 })
      const after = await session.token()
      secrets.push(after)
      expect(after).not.toBe(before)
      const text = log.lines.join('\n')
      expect(text).toMatch(/Keystone: the token expires at .*, too soon; re-authenticating/)
      expect(text).toMatch(/warning: Glance: at 0.0002 MiB\/s the upload of 1 MiB could outlast the token/)
      expect((await glance.getImage(image.id)).status).toBe('active')
    } finally {
      await glance.deleteImage(image.id)
    }
  })

  it('fails clearly when the re-authentication is refused too', async () => {
    const { glance, session } = await connect(memberEnv(h))
    await revoke(await session.token())
    // the credentials now point at a user that cannot log in
    ;(session.settings.auth as { password: string }).password = 'changed-meanwhile'
    const error = (await glance.listImages().catch((caught: unknown) => caught)) as Error
    expect(error.message).toMatch(/^Keystone refused the credentials/)
    logs.push(error.message)
  })

  it('masks every token the moment Keystone hands it over, and revokes all a session obtained', async () => {
    const masked: string[] = []
    const log = { ...recordingLog(), setSecret: (value: string) => void masked.push(value) }
    recorders.push(log)
    const connection = await connectGlance(resolveOpenStackSettings(memberEnv(h)), log)
    connections.push(connection)
    const { session } = connection
    const first = await session.token()
    expect(masked).toEqual([first])
    // a re-authentication replaces the token; the first one stays valid until revoked
    const second = await session.reauthenticate('a test asked for a new token')
    secrets.push(first, second)
    expect(second).not.toBe(first)
    expect(masked).toEqual([first, second])
    expect(first.startsWith('gAAAA')).toBe(true)
    expect(session.issuedTokens()).toEqual([first, second])
    expect([await keystoneAccepts(h, first), await keystoneAccepts(h, second)]).toEqual([true, true])

    await session.revoke()
    expect([await keystoneAccepts(h, first), await keystoneAccepts(h, second)]).toEqual([false, false])
    expect(log.lines).toContain('Keystone: revoked 2 of 2 token(s) of this session')
    expect(session.issuedTokens()).toEqual([])
  })

  it('deletes an image with a stored token, says when Glance refuses it, and revokes what it took', async () => {
    const { glance, session, settings, log } = await connect(memberEnv(h))
    const image = await glance.createImage({ name: 'auth-stored-token', diskFormat: 'raw' })
    const stored = { ...keystoneAccess(settings), endpoint: glance.endpoint, token: await session.token() }
    await revoke(stored.token)
    expect(await deleteWithStoredToken(stored, { imageId: image.id }, log)).toBe('refused')
    expect(await glance.findImage(image.id)).toBeDefined()

    const fresh = { ...stored, token: await session.token() }
    secrets.push(fresh.token)
    expect(await deleteWithStoredToken(fresh, { imageId: image.id }, log)).toBe('deleted')
    expect(await glance.findImage(image.id)).toBeUndefined()

    // with credentials (the post step's fallback): the token it took is revoked afterwards
    const other = await glance.createImage({ name: 'auth-unsettled', diskFormat: 'raw' })
    const taken: string[] = []
    const fallbackLog = { ...recordingLog(), setSecret: (value: string) => void taken.push(value) }
    recorders.push(fallbackLog)
    expect(await deleteUnsettledImage(settings, { imageId: other.id }, fallbackLog)).toBe(true)
    expect(await glance.findImage(other.id)).toBeUndefined()
    expect(taken).toHaveLength(1)
    secrets.push(...taken)
    expect(await keystoneAccepts(h, taken[0] as string)).toBe(false)
    expect(fallbackLog.lines).toContain('Keystone: revoked 1 of 1 token(s) of this run')
  })

  it('authenticates with a given token (v3token, OS_TOKEN), finds Glance, and never revokes that token', async () => {
    const donor = await connect(memberEnv(h))
    const given = await donor.session.token()
    const tokenEnv = {
      OS_AUTH_URL: h.authUrl,
      OS_AUTH_TYPE: 'v3token',
      OS_TOKEN: given,
      OS_PROJECT_NAME: h.member.projectName,
      OS_PROJECT_DOMAIN_NAME: h.member.projectDomainName,
      OS_REGION_NAME: h.region
    }
    const { glance, session, masked, log } = await connect(tokenEnv)
    expect(masked).toEqual([given])
    expect(glance.endpoint).toBe(`${h.glanceUrl}/v2`)
    expect(await session.projectId()).toBe(h.member.projectId)
    expect(Array.isArray(await glance.listImages({ limit: 1 }))).toBe(true)
    expect(log.lines[0]).toMatch(/^Keystone: authenticated as member in project demo \(v3token\)/)
    // the session holds a token of its own, traded for the given one: that one it revokes, never the given
    const ours = await session.token()
    expect(ours).not.toBe(given)
    expect(session.issuedTokens()).toEqual([ours])
    await session.revoke()
    expect([await keystoneAccepts(h, ours), await keystoneAccepts(h, given)]).toEqual([false, true])

    // from clouds.yaml too (auth_type: v3token, auth: {token}), scoped by the project id
    const cloudsYaml = [
      'clouds:',
      '  given:',
      '    auth_type: v3token',
      '    auth:',
      `      auth_url: ${h.authUrl}`,
      `      token: ${given}`,
      `      project_id: ${h.member.projectId}`,
      `    region_name: ${h.region}`,
      ''
    ].join('\n')
    const fromYaml = await connect({}, { cloudsYaml, cloud: 'given' })
    expect(fromYaml.masked).toEqual([given])
    expect(fromYaml.glance.endpoint).toBe(`${h.glanceUrl}/v2`)
  })

  it('fails clearly on a token Keystone does not take, without printing it', async () => {
    const bad = 'gAAAAABnot-a-real-token-0123456789'
    secrets.push(bad)
    const settings = resolveOpenStackSettings({
      OS_AUTH_URL: h.authUrl,
      OS_AUTH_TYPE: 'v3token',
      OS_TOKEN: bad,
      OS_PROJECT_NAME: h.member.projectName
    })
    const error = (await connectGlance(settings, recordingLog()).catch((caught: unknown) => caught)) as Error
    expect(error).toBeInstanceOf(OpenStackError)
    expect(error.message).toMatch(
      /^Keystone refused the credentials \(token auth \(a given token\), project demo@default, at http:\/\/127\.0\.0\.1:\d+\/v3\): .* — check the token \(expired or revoked\?\) and the project/
    )
    expect(error.message).not.toContain(bad)
    logs.push(error.message)
  })

  it('never wrote a password, credential secret or token into the log', () => {
    const all = [...logs, ...recorders.flatMap(recorder => recorder.lines)]
    expect(all.length).toBeGreaterThan(10)
    expectNoSecrets(all, secrets)
  })
})
