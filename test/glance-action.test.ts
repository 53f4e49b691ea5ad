// The action publishing to a real Keystone + Glance (Debian's packages on 127.0.0.1), run through
// dist/ as the runner runs it: mode publish and a build that publishes, read back with the openstack
// CLI; a rerun that reuses; rotation with an application credential from clouds.yaml and the import
// flow; wrong credentials failing before any disk is touched; a killed main whose post step deletes
// the half-uploaded image. No secret may appear in anything the action writes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  addImageRegion,
  adminEnv,
  appCredentialEnv,
  expectNoSecrets,
  keystoneAccepts,
  makeQcow2,
  memberEnv,
  openstackCli,
  removeImageRegion,
  revokeToken,
  sha512Of,
  startHarness,
  stopHarness,
  type HarnessEnv
} from './openstack/harness.js'
import { FakeGitHub } from './fakes/github.js'
import { SigstoreStandIn } from './fakes/sigstore.js'
import {
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  runAction,
  runPost,
  scratchDir,
  type ActionRun
} from './helpers.js'

let h: HarnessEnv
let dir: string
let qcow2: string
const texts: string[] = []
/** Every scratch directory a run used, removed at the end. */
const runDirs: string[] = []

function newRunDir(): string {
  const made = scratchDir('arch-image-glance-')
  runDirs.push(made)
  return made
}
const suffix = `${process.pid}-${Date.now().toString(36)}`

interface CliImage {
  id: string
  name: string
  status: string
  visibility: string
  size: number
  min_disk: number
  tags: string[]
  properties: Record<string, string>
  [key: string]: unknown
}

/** The Keystone tokens (Fernet: gAAAA…) a run masked: every one it obtained. */
function maskedTokens(output: string): string[] {
  return [...output.matchAll(/^::add-mask::(gAAAA\S+)$/gm)].map(match => match[1] as string)
}

/** Keystone's verdict on each token: none may still be accepted once a run is over. */
async function stillAccepted(tokens: string[]): Promise<string[]> {
  const accepted: string[] = []
  for (const token of tokens) if (await keystoneAccepts(h, token)) accepted.push(`${token.slice(0, 9)}…`)
  return accepted
}

async function showImage(id: string): Promise<CliImage> {
  return JSON.parse(await openstackCli(['image', 'show', '-f', 'json', id], memberEnv(h))) as CliImage
}

/** Images of that name, hidden ones included (a new image stays hidden until it is promoted). */
async function imagesNamed(name: string): Promise<{ ID: string; Name: string; Status: string }[]> {
  const listed: { ID: string; Name: string; Status: string }[] = []
  for (const hidden of [[], ['--hidden']]) {
    listed.push(
      ...(JSON.parse(
        await openstackCli(
          ['image', 'list', '--private', ...hidden, '--name', name, '-f', 'json'],
          memberEnv(h)
        )
      ) as { ID: string; Name: string; Status: string }[])
    )
  }
  return listed
}

function record(run: ActionRun): ActionRun {
  texts.push(
    run.output,
    run.summary,
    readFileSync(run.files.state, 'utf8'),
    readFileSync(run.files.output, 'utf8')
  )
  return run
}

async function publish(inputs: Record<string, string>, env: Record<string, string>): Promise<ActionRun> {
  const runDir = newRunDir()
  return record(
    await runAction({
      dir: runDir,
      inputs: { mode: 'publish', 'image-path': qcow2, ...inputs },
      env: {
        GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
        GITHUB_REPOSITORY: 'octo/images',
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_RUN_ID: '4242',
        ...env
      }
    })
  )
}

beforeAll(async () => {
  h = await startHarness()
  dir = scratchDir('arch-image-glance-')
  qcow2 = await makeQcow2(dir, 'arch-nightly')
}, 300_000)

afterAll(async () => {
  // every image this file made carries its suffix; delete what a failed test left
  try {
    const all = JSON.parse(await openstackCli(['image', 'list', '--long', '-f', 'json'], adminEnv(h))) as {
      ID: string
      Name: string
    }[]
    for (const image of all.filter(candidate => candidate.Name?.includes(suffix))) {
      await openstackCli(['image', 'set', '--unprotected', image.ID], adminEnv(h)).catch(() => '')
      await openstackCli(['image', 'delete', image.ID], adminEnv(h)).catch(() => '')
    }
  } finally {
    await stopHarness()
    execFileSync('rm', ['-rf', ...runDirs, ...(dir ? [dir] : [])])
  }
  // `::add-mask::` lines are what masks: the runner consumes them and never shows them
  expectNoSecrets(texts, [h.member.password, h.admin.password, h.appCredential.secret])
  const masks = texts.join('\n')
  for (const secret of [h.member.password, h.appCredential.secret]) {
    expect(masks).toContain(`::add-mask::${secret}`)
  }
}, 120_000)

describe('mode publish with OS_* variables (password)', () => {
  let first: ActionRun
  const name = `arch-nightly-${suffix}`

  it('publishes, verified, with the properties Nova needs and where it came from', async () => {
    first = await publish(
      { 'image-name': name, tags: 'nightly, arch', properties: 'hw_rng_model: virtio', 'min-ram': '512' },
      memberEnv(h)
    )
    expect(first.output).not.toContain('::error::')
    expect(first.code).toBe(0)
    const id = first.outputs['image-id'] as string
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.outputs['image-name']).toBe(name)
    expect(first.outputs['image-url']).toBe(`${h.glanceUrl.replace(/\/+$/, '')}/v2/images/${id}`)
    expect(first.outputs['os-hash-value']).toBe(await sha512Of(qcow2))
    expect(first.outputs['glance-reused']).toBe('false')

    const image = await showImage(id)
    expect(image).toMatchObject({ name, status: 'active', visibility: 'private', disk_format: 'qcow2' })
    expect(image.size).toBe(Number(first.outputs['image-size']))
    expect(image.min_disk).toBe(1) // 64 MiB virtual, rounded up to whole GiB
    expect(image.min_ram).toBe(512)
    expect([...image.tags].sort()).toEqual(['arch', 'nightly'])
    expect(image.properties).toMatchObject({
      os_distro: 'arch',
      os_type: 'linux',
      architecture: 'x86_64',
      hw_disk_bus: 'scsi',
      hw_scsi_model: 'virtio-scsi',
      hw_qemu_guest_agent: 'yes',
      hw_rng_model: 'virtio',
      arch_image_family: 'arch-cloud',
      arch_image_sha256: first.outputs.sha256,
      arch_image_commit: '0123456789abcdef0123456789abcdef01234567',
      arch_image_repository: 'octo/images',
      arch_image_run_url: 'https://github.com/octo/images/actions/runs/4242'
    })
    expect(first.summary).toContain(id)
  }, 300_000)

  it('revokes the token the run used once it is done', async () => {
    const tokens = maskedTokens(first.output)
    expect(tokens.length).toBeGreaterThan(0)
    expect(first.output).toMatch(/Keystone: revoked 1 of 1 token\(s\) of this run/)
    expect(await stillAccepted(tokens)).toEqual([])
  }, 60_000)

  it('a rerun with the same file reuses the image and uploads nothing', async () => {
    const again = await publish({ 'image-name': name }, memberEnv(h))
    expect(again.code).toBe(0)
    expect(again.outputs['image-id']).toBe(first.outputs['image-id'])
    expect(again.outputs['glance-reused']).toBe('true')
    expect(again.output).toMatch(/already holds these bytes; not uploading again/)
    expect(await imagesNamed(name)).toHaveLength(1)
  }, 300_000)
})

describe('clouds.yaml with an application credential', () => {
  it('imports with glance-direct and rotates the family to keep 2', async () => {
    const clouds = [
      'clouds:',
      '  lab:',
      '    auth_type: v3applicationcredential',
      `    region_name: ${h.region}`,
      '    auth:',
      `      auth_url: ${h.authUrl}`,
      `      application_credential_id: ${h.appCredential.id}`,
      `      application_credential_secret: ${h.appCredential.secret}`
    ].join('\n')
    const family = `rot-${suffix}`
    const ids: string[] = []
    for (const n of [1, 2, 3]) {
      const run = await publish(
        {
          'image-name': `${family}-${n}`,
          'image-family': family,
          cloud: 'lab',
          'clouds-yaml': clouds,
          'upload-method': 'import',
          keep: '2'
        },
        {}
      )
      expect(run.output).not.toContain('::error::')
      expect(run.code).toBe(0)
      ids.push(run.outputs['image-id'] as string)
      if (n === 3) expect(run.summary).toContain(`${family}-1`)
      // created_at has one-second resolution
      await sleep(1100)
    }
    const listed = JSON.parse(
      await openstackCli(
        ['image', 'list', '--property', `arch_image_family=${family}`, '-f', 'json'],
        appCredentialEnv(h)
      )
    ) as { ID: string }[]
    expect(listed.map(image => image.ID).sort()).toEqual([ids[1], ids[2]].sort())
    expect((await showImage(ids[2] as string)).status).toBe('active')
  }, 600_000)
})

describe('failures', () => {
  it('a wrong password fails the build before any disk is touched, creating no image', async () => {
    const runDir = newRunDir()
    const run = record(
      await runAction({
        dir: runDir,
        inputs: {
          ...fixtureInputs(fixtureRepo(), runDir),
          'image-name': `wrong-${suffix}`
        },
        env: { ...memberEnv(h), OS_PASSWORD: 'not-the-password' }
      })
    )
    expect(run.code).not.toBe(0)
    expect(run.output).toMatch(
      /stage "openstack" failed: Keystone refused the credentials \(password auth as member@Default.*check the user, password/
    )
    // core.summary writes an empty cell as an unclosed <td>: rows without a duration say "-"
    expect(run.summary).toMatch(/<td>disk<\/td><td>-<\/td><td>not run<\/td>/)
    expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
    expect(await imagesNamed(`wrong-${suffix}`)).toHaveLength(0)
    execFileSync('rm', ['-rf', runDir])
  }, 300_000)

  it('a plain http Keystone on another machine is refused with the bad inputs, naming the URL, before any stage', async () => {
    const runDir = newRunDir()
    const remote = 'http://keystone.example.org:5000/v3'
    const run = record(
      await runAction({
        dir: runDir,
        inputs: { ...fixtureInputs(fixtureRepo(), runDir), 'image-name': `insecure-${suffix}` },
        env: { ...memberEnv(h), OS_AUTH_URL: remote }
      })
    )
    expect(run.code).toBe(1)
    expect(/::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n')).toBe(
      `invalid input:\n  - OS_AUTH_URL: ${remote} is plain http: credentials and tokens would cross the network unencrypted; use https, or set allow-insecure-http: true if this network is trusted`
    )
    // no stage ran: no summary, no disk, no package cache, nothing attached
    expect(run.summary).toBe('')
    expect(run.output).not.toContain('losetup')
    expect(existsSync(path.join(runDir, 'workspace/arch-image-out'))).toBe(false)
    expect(existsSync(path.join(runDir, 'pkg-cache'))).toBe(false)
    expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
  }, 120_000)

  it('a catalog whose image endpoint is plain http on another machine fails at the openstack stage, before any disk', async () => {
    // A region of its own, so no other test can pick this endpoint.
    const region = `insecure-${suffix}`
    const glance = 'http://glance.example.org:9292'
    const endpointId = await addImageRegion(h, region, glance)
    try {
      const runDir = newRunDir()
      const run = record(
        await runAction({
          dir: runDir,
          inputs: { ...fixtureInputs(fixtureRepo(), runDir), 'image-name': `catalog-${suffix}` },
          env: { ...memberEnv(h), OS_REGION_NAME: region }
        })
      )
      expect(run.code).toBe(1)
      expect(run.output).toContain(
        `::error::stage "openstack" failed: the service catalog's image endpoint: ${glance} is plain http: credentials and tokens would cross the network unencrypted; use https, or set allow-insecure-http: true if this network is trusted`
      )
      expect(run.summary).toMatch(/<td>disk<\/td><td>-<\/td><td>not run<\/td>/)
      expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
    } finally {
      await removeImageRegion(h, region, endpointId)
    }
  }, 300_000)

  describe('main killed mid-upload', () => {
    let big: string
    beforeAll(() => {
      big = path.join(dir, 'big.qcow2')
      const raw = path.join(dir, 'big.raw')
      execFileSync('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', 'count=400', 'status=none'])
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, big])
      execFileSync('rm', ['-f', raw])
    }, 120_000)
    afterAll(() => rmSync(big, { force: true }))

    /** Run main and SIGKILL it the moment its image is registered for deletion (the upload has begun). */
    async function killedMain(options: Parameters<typeof runAction>[0], name: string): Promise<ActionRun> {
      let killed = false
      const run = record(
        await runAction({
          ...options,
          onStart: child => {
            const state = path.join(options.dir, 'github_state')
            const poll = setInterval(() => {
              if (readFileSync(state, 'utf8').includes('glance-image')) {
                clearInterval(poll)
                killed = child.kill('SIGKILL')
              }
            }, 20)
            child.on('close', () => clearInterval(poll))
          }
        })
      )
      expect(killed).toBe(true)
      expect(run.signal).toBe('SIGKILL')
      const before = await imagesNamed(name)
      expect(before).toHaveLength(1)
      expect(before[0]?.Status).not.toBe('active')
      return run
    }

    it('the post step deletes the unfinished image with what main stored, inputs gone, and revokes its token', async () => {
      const runDir = newRunDir()
      const name = `killed-${suffix}`
      const clouds = path.join(runDir, 'workspace', 'clouds.yaml')
      const options = {
        dir: runDir,
        inputs: {
          mode: 'publish',
          'image-path': big,
          'image-name': name,
          cloud: 'lab',
          'clouds-yaml': clouds
        },
        env: {}
      }
      execFileSync('mkdir', ['-p', path.dirname(clouds)])
      writeFileSync(
        clouds,
        [
          'clouds:',
          '  lab:',
          `    region_name: ${h.region}`,
          '    auth:',
          `      auth_url: ${h.authUrl}`,
          `      username: ${h.member.username}`,
          `      password: ${JSON.stringify(h.member.password)}`,
          `      project_name: ${h.member.projectName}`,
          `      user_domain_name: ${h.member.userDomainName}`,
          `      project_domain_name: ${h.member.projectDomainName}`
        ].join('\n')
      )
      const run = await killedMain(options, name)
      const stored = (JSON.parse(run.state.teardown ?? '[]') as { kind: string; glance?: unknown }[]).find(
        resource => resource.kind === 'glance-image'
      )
      expect(stored?.glance).toEqual({
        authUrl: h.authUrl,
        endpoint: `${h.glanceUrl}/v2`,
        token: expect.stringMatching(/^gAAAA/)
      })

      // main's credentials are gone: the post step must not need them (nor validate any input)
      rmSync(clouds)
      const post = await runPost(options)
      texts.push(post.output)
      expect(post.output).not.toContain('::error::')
      expect(post.code).toBe(0)
      expect(post.output).toMatch(/delete the unfinished Glance image/)
      expect(post.output).not.toMatch(/authenticating again/)
      expect(await imagesNamed(name)).toHaveLength(0)
      const tokens = maskedTokens(run.output)
      expect(tokens.length).toBeGreaterThan(0)
      expect(await stillAccepted(tokens)).toEqual([])
    }, 600_000)

    it('when Glance refuses the stored token, the post step authenticates again from the Glance inputs', async () => {
      const runDir = newRunDir()
      const name = `killed-expired-${suffix}`
      const options = {
        dir: runDir,
        inputs: { mode: 'publish', 'image-path': big, 'image-name': name },
        env: memberEnv(h)
      }
      const run = await killedMain(options, name)
      // as if the token had expired before the post step ran
      const mainTokens = maskedTokens(run.output)
      for (const token of mainTokens) await revokeToken(h, token)

      const post = await runPost(options)
      texts.push(post.output)
      expect(post.output).not.toContain('::error::')
      expect(post.code).toBe(0)
      expect(post.output).toMatch(
        /post: Glance refused the token the main step stored \(expired or revoked\); authenticating again with the Glance inputs/
      )
      expect(await imagesNamed(name)).toHaveLength(0)
      const postTokens = maskedTokens(post.output).filter(token => !mainTokens.includes(token))
      expect(postTokens).toHaveLength(1)
      expect(await stillAccepted(postTokens)).toEqual([])
    }, 600_000)
  })
})

describe('attest: true', () => {
  let github: FakeGitHub
  let sigstore: SigstoreStandIn
  let sigstoreDir: string
  const sha = 'fedcba9876543210fedcba9876543210fedcba98'
  /** The first test's image and run, which the rerun publishes again. */
  let attested: { image: string; run: ActionRun }

  beforeAll(async () => {
    github = await FakeGitHub.start()
    sigstoreDir = newRunDir()
    sigstore = await SigstoreStandIn.start({
      dir: sigstoreDir,
      repository: github.repository,
      sha,
      runId: '4242'
    })
  }, 120_000)

  afterAll(async () => {
    await github?.close()
    await sigstore?.close()
  })

  /** What a job with `id-token: write` sees, with the fake GitHub as its API. */
  function attestEnv(): Record<string, string> {
    return {
      ...memberEnv(h),
      ...sigstore.env(),
      GITHUB_API_URL: github.apiUrl,
      GITHUB_REPOSITORY: github.repository,
      GITHUB_SHA: sha
    }
  }

  interface Statement {
    _type: string
    subject: { name: string; digest: Record<string, string> }[]
    predicateType: string
    predicate: {
      buildDefinition: { resolvedDependencies: { uri: string; digest: Record<string, string> }[] }
    }
  }

  function statementOf(bundle: { dsseEnvelope: { payload: string } }): Statement {
    return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as Statement
  }

  it('mode publish signs SLSA provenance of the image, stores it, and Glance points to it', async () => {
    const runDir = newRunDir()
    const image = await makeQcow2(runDir, `attested-${suffix}`)
    const sha256 = createHash('sha256').update(readFileSync(image)).digest('hex')
    const run = await publish(
      { 'image-path': image, attest: 'true', 'github-token': 'write-token' },
      attestEnv()
    )
    record(run)
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(run.outputs.sha256).toBe(sha256)

    // stored once on GitHub, and the same bundle written next to the image
    expect(github.attestations).toHaveLength(1)
    const stored = github.attestations[0] as { id: number; bundle: unknown }
    const bundlePath = `${image}.sigstore.json`
    expect(run.outputs['attestation-id']).toBe(String(stored.id))
    expect(run.outputs['attestation-url']).toBe(
      `https://github.com/${github.repository}/attestations/${stored.id}`
    )
    expect(run.outputs['attestation-bundle-path']).toBe(bundlePath)
    const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as { dsseEnvelope: { payload: string } }
    expect(bundle).toEqual(stored.bundle)
    expect(github.violations).toEqual([])

    // a valid signature by the stand-in's CA, timestamped (a private repository: GitHub's instance) ...
    expect(() => sigstore.verify(bundle)).not.toThrow()
    expect(() => sigstore.verify(bundle, { transparencyLog: true })).toThrow()
    expect(sigstore.requests).toEqual(
      expect.arrayContaining([
        'token.actions.githubusercontent.com /.well-known/jwks',
        'fulcio.githubapp.com /api/v2/signingCert',
        'timestamp.githubapp.com /api/v1/timestamp'
      ])
    )
    expect(sigstore.tokenRequests).toEqual([
      { audience: 'nobody', authorized: true },
      { audience: 'sigstore', authorized: true }
    ])
    // ... that a changed statement no longer carries
    const forged = statementOf(bundle)
    forged.subject[0]!.digest.sha256 = '0'.repeat(64)
    const tampered = {
      ...bundle,
      dsseEnvelope: {
        ...bundle.dsseEnvelope,
        payload: Buffer.from(JSON.stringify(forged)).toString('base64')
      }
    }
    expect(() => sigstore.verify(tampered)).toThrow()

    // the statement: SLSA provenance v1 of this run, about this file
    const statement = statementOf(bundle)
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1')
    expect(statement.subject).toEqual([{ name: path.basename(image), digest: { sha256 } }])
    expect(statement.predicate.buildDefinition.resolvedDependencies[0]?.digest).toEqual({ gitCommit: sha })

    const published = await showImage(run.outputs['image-id'] as string)
    expect(published.properties).toMatchObject({
      arch_image_attestation_url: run.outputs['attestation-url'],
      arch_image_attestation_digest: `sha256:${sha256}`,
      arch_image_sha256: sha256
    })
    expect(run.summary).toContain(run.outputs['attestation-url'] as string)
    attested = { image, run }
  }, 300_000)

  it('a rerun that reuses the image points it to the new attestation', async () => {
    const again = record(
      await publish(
        { 'image-path': attested.image, attest: 'true', 'github-token': 'write-token' },
        attestEnv()
      )
    )
    expect(again.code).toBe(0)
    expect(again.outputs['glance-reused']).toBe('true')
    expect(again.outputs['image-id']).toBe(attested.run.outputs['image-id'])
    expect(again.outputs['attestation-id']).not.toBe(attested.run.outputs['attestation-id'])
    const image = await showImage(again.outputs['image-id'] as string)
    expect(image.properties).toMatchObject({
      arch_image_attestation_url: again.outputs['attestation-url'],
      arch_image_attestation_digest: `sha256:${again.outputs.sha256}`
    })
  }, 300_000)

  it('for a public repository signs with the public-good instance: Fulcio and a Rekor entry', async () => {
    const runDir = newRunDir()
    const image = await makeQcow2(runDir, `public-${suffix}`)
    const event = path.join(runDir, 'event.json')
    writeFileSync(
      event,
      JSON.stringify({ repository: { full_name: github.repository, visibility: 'public' } })
    )
    const before = sigstore.requests.length
    const run = record(
      await publish(
        { 'image-path': image, attest: 'true', 'github-token': 'write-token' },
        { ...attestEnv(), GITHUB_EVENT_NAME: 'push', GITHUB_EVENT_PATH: event }
      )
    )
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(sigstore.requests.slice(before)).toEqual(
      expect.arrayContaining([
        'fulcio.sigstore.dev /api/v2/signingCert',
        'rekor.sigstore.dev /api/v1/log/entries'
      ])
    )
    expect(sigstore.requests.slice(before).some(request => request.includes('githubapp.com'))).toBe(false)
    const bundle = JSON.parse(readFileSync(run.outputs['attestation-bundle-path'] as string, 'utf8')) as {
      dsseEnvelope: { payload: string }
    }
    expect(() => sigstore.verify(bundle, { transparencyLog: true })).not.toThrow()
    expect(statementOf(bundle).subject).toEqual([
      { name: path.basename(image), digest: { sha256: run.outputs.sha256 } }
    ])
  }, 300_000)

  it('a token without attestations: write fails naming it, before anything is published', async () => {
    const runDir = newRunDir()
    const name = `unattested-${suffix}`
    const image = await makeQcow2(runDir, name)
    const run = record(
      await publish({ 'image-path': image, attest: 'true', 'github-token': 'read-token' }, attestEnv())
    )
    expect(run.code).not.toBe(0)
    expect(run.output).toMatch(
      /stage "attest" failed: attest: GitHub refused to store the attestation in octo-org\/arch-images \(403\): the token needs `attestations: write`/
    )
    expect(run.outputs['attestation-id']).toBeUndefined()
    expect(await imagesNamed(name)).toHaveLength(0)
  }, 300_000)

  it('without the OIDC grant the build is refused with the inputs, naming both permissions, before any disk', async () => {
    const runDir = newRunDir()
    const env = attestEnv()
    delete env.ACTIONS_ID_TOKEN_REQUEST_URL
    delete env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
    const run = record(
      await runAction({
        dir: runDir,
        inputs: { ...fixtureInputs(fixtureRepo(), runDir), attest: 'true', 'github-token': 'write-token' },
        env
      })
    )
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n') ?? ''
    expect(error).toContain('attest: true needs an OIDC token from the runner')
    expect(error).toContain('`permissions: id-token: write`')
    expect(error).toContain('`attestations: write`')
    expect(run.summary).toBe('')
    expect(run.output).not.toContain('losetup')
    expect(existsSync(path.join(runDir, 'workspace/arch-image-out'))).toBe(false)
    expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
  }, 120_000)
})

describe('build and publish', () => {
  it('a build publishes its image with the build facts, attested with its SBOM, and releases it with the bundles', async () => {
    const runDir = newRunDir()
    const name = `built-${suffix}`
    const sha = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567'
    const github = await FakeGitHub.start()
    const sigstore = await SigstoreStandIn.start({
      dir: runDir,
      repository: github.repository,
      sha,
      runId: '77'
    })
    try {
      const run = record(
        await runAction({
          dir: runDir,
          inputs: {
            ...fixtureInputs(fixtureRepo(), runDir),
            'image-name': name,
            'boot-mode': 'uefi',
            attest: 'true',
            'release-tag': `built-${suffix}`,
            'github-token': 'write-token'
          },
          env: {
            ...memberEnv(h),
            ...sigstore.env(),
            GITHUB_API_URL: github.apiUrl,
            GITHUB_REPOSITORY: github.repository,
            GITHUB_SHA: sha
          }
        })
      )
      expect(run.output).not.toContain('::error::')
      expect(run.code).toBe(0)
      const image = await showImage(run.outputs['image-id'] as string)
      expect(image).toMatchObject({ name, status: 'active', disk_format: 'qcow2', min_disk: 1 })
      const spdx = readFileSync(run.outputs['sbom-spdx-path'] as string)
      expect(image.properties).toMatchObject({
        hw_firmware_type: 'uefi',
        arch_image_sha256: run.outputs.sha256,
        arch_image_sbom_sha256: createHash('sha256').update(spdx).digest('hex'),
        arch_image_attestation_url: run.outputs['attestation-url'],
        arch_image_attestation_digest: `sha256:${run.outputs.sha256}`
      })
      expect(run.outputs['os-hash-value']).toBe(await sha512Of(run.outputs['image-path'] as string))

      // the attestation: stored, verified, about the built file; its bundle is a release asset
      const imagePath = run.outputs['image-path'] as string
      const bundlePath = run.outputs['attestation-bundle-path'] as string
      expect(bundlePath).toBe(`${imagePath}.sigstore.json`)
      const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as { dsseEnvelope: { payload: string } }
      // Two stored: the provenance (the output's id) and the SPDX SBOM, both about the image.
      expect(github.attestations).toHaveLength(2)
      expect(github.attestations.map(stored => String(stored.id))).toContain(run.outputs['attestation-id'])
      const sbomBundle = JSON.parse(readFileSync(`${imagePath}.sbom.sigstore.json`, 'utf8')) as {
        dsseEnvelope: { payload: string }
      }
      for (const [signed, predicateType] of [
        [bundle, 'https://slsa.dev/provenance/v1'],
        [sbomBundle, 'https://spdx.dev/Document/v2.3']
      ] as const) {
        expect(() => sigstore.verify(signed)).not.toThrow()
        const statement = JSON.parse(Buffer.from(signed.dsseEnvelope.payload, 'base64').toString('utf8')) as {
          subject: unknown
          predicateType: string
          predicate: { spdxVersion?: string }
        }
        expect(statement.predicateType).toBe(predicateType)
        expect(statement.subject).toEqual([
          { name: path.basename(imagePath), digest: { sha256: run.outputs.sha256 } }
        ])
        if (predicateType.includes('spdx'))
          expect(statement.predicate).toEqual(JSON.parse(spdx.toString('utf8')))
      }
      const assets = JSON.parse(run.outputs['release-assets'] as string) as { name: string; size: number }[]
      expect(assets.map(asset => asset.name)).toContain(path.basename(bundlePath))
      const uploaded = github.uploads.find(upload => upload.name === path.basename(bundlePath))
      expect(uploaded?.sha256).toBe(createHash('sha256').update(readFileSync(bundlePath)).digest('hex'))
      expect(github.violations).toEqual([])
      expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
    } finally {
      await github.close()
      await sigstore.close()
    }
    execFileSync('rm', ['-rf', runDir])
  }, 900_000)
})

describe('pull request previews', () => {
  /** A pull_request payload as the runner writes it (the fields the action reads). */
  function event(runDir: string, pr: number, sha: string, action: string): Record<string, string> {
    const file = path.join(runDir, 'event.json')
    writeFileSync(
      file,
      JSON.stringify({ action, number: pr, pull_request: { number: pr, head: { sha }, state: 'open' } })
    )
    return { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: file }
  }

  it('are named and tagged per pull request, kept private, and cleanup deletes only those of the closed one', async () => {
    const family = `pv-${suffix}`
    const shas = { a: 'a1'.repeat(20), b: 'b2'.repeat(20), c: 'c3'.repeat(20) }
    const published: Record<string, ActionRun> = {}
    for (const [key, pr, sha] of [
      ['7a', 7, shas.a],
      ['7b', 7, shas.b],
      ['8', 8, shas.c]
    ] as const) {
      const runDir = newRunDir()
      published[key] = await publish(
        { 'image-family': family, visibility: 'public' },
        { ...memberEnv(h), ...event(runDir, pr, sha, 'synchronize') }
      )
      expect(published[key]?.code).toBe(0)
    }
    const nightly = await publish({ 'image-family': family, 'image-name': `${family}-nightly` }, memberEnv(h))
    expect(nightly.code).toBe(0)

    expect(published['7a']?.outputs['image-name']).toBe(`${family}-pr7-${shas.a.slice(0, 7)}`)
    const preview = await showImage(published['8']?.outputs['image-id'] as string)
    expect(preview).toMatchObject({ name: `${family}-pr8-${shas.c.slice(0, 7)}`, visibility: 'private' })
    expect(preview.properties).toMatchObject({
      arch_image_family: `${family}-pr8`,
      arch_image_pr: '8',
      arch_image_pr_sha: shas.c
    })
    expect(published['8']?.output).toMatch(/a pull request preview stays private, not public/)

    const github = await FakeGitHub.start()
    try {
      const runDir = newRunDir()
      const cleanup = record(
        await runAction({
          dir: runDir,
          inputs: { mode: 'cleanup', 'image-family': family, 'github-token': 'write-token' },
          env: {
            ...memberEnv(h),
            ...event(runDir, 7, shas.b, 'closed'),
            GITHUB_API_URL: github.apiUrl,
            GITHUB_REPOSITORY: github.repository
          }
        })
      )
      expect(cleanup.output).not.toContain('::error::')
      expect(cleanup.code).toBe(0)
      const deleted = JSON.parse(cleanup.outputs.deleted as string) as { kind: string; id: string }[]
      expect(
        deleted
          .filter(item => item.kind === 'image')
          .map(item => item.id)
          .sort()
      ).toEqual([published['7a']?.outputs['image-id'], published['7b']?.outputs['image-id']].sort())
      expect(github.violations).toEqual([])
    } finally {
      await github.close()
    }
    for (const key of ['7a', '7b']) {
      expect(await imagesNamed(published[key]?.outputs['image-name'] as string)).toHaveLength(0)
    }
    expect((await showImage(published['8']?.outputs['image-id'] as string)).status).toBe('active')
    expect((await showImage(nightly.outputs['image-id'] as string)).status).toBe('active')
  }, 600_000)
})
