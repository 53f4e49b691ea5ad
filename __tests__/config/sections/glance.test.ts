import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigError, glanceSettingsFromInputs, type Config } from '../../../src/config/config.js'
import { readQcow2Header } from '../../../src/config/qcow2-header.js'
import { config as configOf, problemsOf, type Inputs } from '../../../test/support/config.js'

const OS_ENV = {
  OS_AUTH_URL: 'https://keystone.example:5000/v3',
  OS_USERNAME: 'ci',
  OS_PASSWORD: 's3cret-password',
  OS_PROJECT_NAME: 'images',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default'
}

/** The config and every secret it masked while reading the inputs. */
function config(
  inputs: Inputs,
  environment: Record<string, string> = {},
  extra: { pullRequest?: { number: number; headSha: string } } = {}
): { config: Config; masked: string[] } {
  const masked: string[] = []
  const result = configOf(inputs, {
    environment,
    mask: secret => masked.push(secret),
    ...(extra.pullRequest ? { pullRequest: extra.pullRequest as never } : {})
  })
  return { config: result, masked }
}

function problems(inputs: Inputs, environment: Record<string, string> = {}): string[] {
  return problemsOf(inputs, { environment })
}

describe('glance input', () => {
  it('auto publishes nothing without credentials, and publishes when OS_* are set', () => {
    expect(config({}).config.glance).toBeUndefined()
    const { config: withEnv, masked } = config({}, OS_ENV)
    expect(withEnv.glance?.settings.auth).toMatchObject({ type: 'password', username: 'ci' })
    expect(withEnv.glance).toMatchObject({
      visibility: 'private',
      minRam: 0,
      protected: false,
      tags: [],
      uploadMethod: 'direct',
      keep: 0,
      rotateDryRun: false
    })
    expect(withEnv.glance?.minDisk).toBeUndefined()
    expect(masked).toContain('s3cret-password')
  })

  it('false publishes nothing even with credentials', () => {
    expect(config({ glance: 'false' }, OS_ENV).config.glance).toBeUndefined()
  })

  it('reads clouds.yaml content and a cloud name from inputs', () => {
    const clouds = [
      'clouds:',
      '  lab:',
      '    auth:',
      '      auth_url: http://127.0.0.1:5000/v3',
      '      application_credential_id: abc',
      '      application_credential_secret: app-secret-123',
      '    auth_type: v3applicationcredential',
      '    region_name: RegionTwo'
    ].join('\n')
    const { config: c, masked } = config({ cloud: 'lab', 'clouds-yaml': clouds })
    expect(c.glance?.settings.auth.type).toBe('v3applicationcredential')
    expect(c.glance?.settings.regionName).toBe('RegionTwo')
    expect(masked).toContain('app-secret-123')
  })

  it('refuses a plain http Keystone on another machine with the other bad inputs, unless allow-insecure-http', () => {
    const remote = { ...OS_ENV, OS_AUTH_URL: 'http://keystone.example.org:5000/v3' }
    expect(problems({ 'disk-size': 'huge' }, remote)).toEqual([
      expect.stringMatching(/^disk-size: /),
      'OS_AUTH_URL: http://keystone.example.org:5000/v3 is plain http: credentials and tokens would cross the network unencrypted; use https, or set allow-insecure-http: true if this network is trusted'
    ])
    expect(problems({ 'image-endpoint': 'http://glance.example.org:9292' }, OS_ENV)).toEqual([
      expect.stringMatching(/^image-endpoint: http:\/\/glance\.example\.org:9292 is plain http/)
    ])
    const { config: allowed } = config({ 'allow-insecure-http': 'true' }, remote)
    expect(allowed.glance?.settings).toMatchObject({
      allowInsecureHttp: true,
      auth: { authUrl: 'http://keystone.example.org:5000/v3' }
    })
    expect(allowed.warnings).toContain(
      'allow-insecure-http: plain http:// Keystone and Glance URLs are accepted; the password and tokens may cross the network unencrypted'
    )
    expect(config({}, OS_ENV).config.glance?.settings.allowInsecureHttp).toBe(false)
    expect(problems({ 'allow-insecure-http': 'yes' }, OS_ENV)).toEqual([
      'allow-insecure-http: "yes" is not accepted; use true or false'
    ])
  })

  it('parses tags, properties, keep and sharing', () => {
    const { config: c } = config(
      {
        tags: 'nightly, arch\nlatest',
        properties: 'hw_vif_model: virtio\nhw_rng_model: virtio\nos_version: 2026',
        keep: '3',
        'rotate-dry-run': 'true',
        visibility: 'shared',
        'share-with': 'p1 p2',
        'min-disk': '4',
        'min-ram': '512',
        'upload-method': 'import'
      },
      OS_ENV
    )
    expect(c.glance).toMatchObject({
      tags: ['nightly', 'arch', 'latest'],
      properties: { hw_vif_model: 'virtio', hw_rng_model: 'virtio', os_version: '2026' },
      keep: 3,
      rotateDryRun: true,
      visibility: 'shared',
      shareWith: ['p1', 'p2'],
      minDisk: 4,
      minRam: 512,
      uploadMethod: 'import'
    })
  })

  it('keeps a pull request preview private', () => {
    const { config: c } = config({ visibility: 'public' }, OS_ENV, {
      pullRequest: { number: 7, headSha: 'abcdef0123456789' }
    })
    expect(c.glance?.visibility).toBe('private')
    expect(c.warnings.join('\n')).toMatch(/preview stays private/)
  })

  it('rejects bad values naming the input and what is accepted', () => {
    const found = problems(
      {
        visibility: 'everyone',
        keep: '-1',
        'min-ram': 'lots',
        protected: 'yes',
        'upload-method': 'ftp',
        properties: 'os_hash_value: x\narch_image_family: y\n"bad key": 1',
        'share-with': 'p1'
      },
      OS_ENV
    )
    const text = found.join('\n')
    expect(text).toMatch(
      /visibility: "everyone" is not accepted; use one of private, shared, community, public/
    )
    expect(text).toMatch(/keep: "-1" is not accepted; use a whole number/)
    expect(text).toMatch(/min-ram: "lots"/)
    expect(text).toMatch(/protected: "yes" is not accepted; use true or false/)
    expect(text).toMatch(/upload-method: "ftp" is not accepted; use direct .* or import/)
    expect(text).toMatch(/properties: os_hash_value is set by Glance or by arch-image/)
    expect(text).toMatch(/properties: arch_image_family is set by Glance or by arch-image/)
    expect(text).toMatch(/properties: "bad key" is not a property name/)
    expect(text).toMatch(/share-with: needs visibility: shared/)
  })

  it('reports incomplete OpenStack settings before anything runs, with no secret in the message', () => {
    const found = problems({}, { OS_AUTH_URL: 'http://127.0.0.1:5000/v3', OS_PASSWORD: 'only-a-password' })
    expect(found.length).toBeGreaterThan(0)
    expect(found.join('\n')).not.toContain('only-a-password')
  })
})

describe('mode publish', () => {
  it('needs an existing image file and credentials, and no release', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-glance-config-'))
    const file = path.join(dir, 'my.qcow2')
    writeFileSync(file, 'x')
    const { config: c } = config({ mode: 'publish', 'image-path': file }, OS_ENV)
    expect(c.mode).toBe('publish')
    expect(c.image.path).toBe(file)
    expect(c.glance).toBeDefined()
    expect(problems({ mode: 'publish', 'image-path': file }).join('\n')).toMatch(/no OpenStack credentials/)
    expect(problems({ mode: 'publish', 'image-path': file, glance: 'false' }, OS_ENV).join('\n')).toMatch(
      /glance: false contradicts mode: publish/
    )
    expect(problems({ mode: 'publish', 'image-path': file, 'release-tag': 'v1' }, OS_ENV).join('\n')).toMatch(
      /release-tag: mode: publish only publishes to Glance/
    )
    expect(problems({ mode: 'publish', 'image-path': path.join(dir, 'nope') }, OS_ENV).join('\n')).toMatch(
      /image-path: ".*nope" is not a file/
    )
    rmSync(dir, { recursive: true, force: true })
  })

  describe('an image-path qcow2 that is not self-contained (headers made by qemu-img)', () => {
    let dir: string
    const qemuImg = (...args: string[]) => execFileSync('qemu-img', ['create', '-q', ...args], { cwd: dir })
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-qcow2-'))
      qemuImg('-f', 'raw', 'base.raw', '1M')
      qemuImg('-f', 'qcow2', 'plain.qcow2', '1M')
      qemuImg('-f', 'qcow2', '-o', 'compat=0.10', 'v2.qcow2', '1M')
      qemuImg('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'backed.qcow2')
      qemuImg('-f', 'qcow2', '-o', 'compat=0.10', '-b', 'base.raw', '-F', 'raw', 'backed-v2.qcow2')
      qemuImg('-f', 'qcow2', '-o', 'data_file=data.bin', 'external.qcow2', '1M')
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('reads the header as qemu-img wrote it', () => {
      expect(readQcow2Header(path.join(dir, 'plain.qcow2'))).toEqual({
        version: 3,
        backingFile: '',
        externalDataFile: false
      })
      expect(readQcow2Header(path.join(dir, 'v2.qcow2'))).toMatchObject({ version: 2, backingFile: '' })
      expect(readQcow2Header(path.join(dir, 'backed.qcow2'))).toMatchObject({ backingFile: 'base.raw' })
      expect(readQcow2Header(path.join(dir, 'backed-v2.qcow2'))).toMatchObject({
        version: 2,
        backingFile: 'base.raw'
      })
      expect(readQcow2Header(path.join(dir, 'external.qcow2'))).toMatchObject({
        backingFile: '',
        externalDataFile: true
      })
      expect(readQcow2Header(path.join(dir, 'base.raw'))).toBeUndefined()
    })

    it('refuses a backing file or an external data file at config time, naming the file', () => {
      for (const file of ['plain.qcow2', 'v2.qcow2', 'base.raw']) {
        expect(
          config({ mode: 'publish', 'image-path': path.join(dir, file) }, OS_ENV).config.image.path
        ).toBe(path.join(dir, file))
      }
      for (const file of ['backed.qcow2', 'backed-v2.qcow2']) {
        expect(problems({ mode: 'publish', 'image-path': path.join(dir, file) }, OS_ENV)).toEqual([
          `image-path: ${path.join(dir, file)} is a qcow2 with a backing file ("base.raw"); Glance would get only the changes on top of it; flatten it first: qemu-img convert -O qcow2 ${path.join(dir, file)} <new file>`
        ])
      }
      expect(problems({ mode: 'publish', 'image-path': path.join(dir, 'external.qcow2') }, OS_ENV)).toEqual([
        expect.stringMatching(
          /^image-path: .*external\.qcow2 is a qcow2 whose data lives in an external data file/
        )
      ])
    })

    it('names the image after the file, and refuses a file name that is no image name', () => {
      expect(
        config({ mode: 'publish', 'image-path': path.join(dir, 'plain.qcow2') }, OS_ENV).config.image.name
      ).toBe('plain')
      execFileSync('cp', ['plain.qcow2', 'nightly+1.qcow2'], { cwd: dir })
      expect(problems({ mode: 'publish', 'image-path': path.join(dir, 'nightly+1.qcow2') }, OS_ENV)).toEqual([
        expect.stringMatching(
          /^image-name: "nightly\+1" is not accepted; .*\(the name comes from the file name of image-path; set image-name\)$/
        )
      ])
    })
  })
})

describe('glanceSettingsFromInputs (the post step when its stored token is refused)', () => {
  it('reads the Glance inputs and OS_* alone: other inputs, and the files they name, may be gone', () => {
    const masked: string[] = []
    const inputs: Inputs = {
      mode: 'publish',
      'image-path': '/gone/image.qcow2',
      'disk-size': 'not-a-size',
      scripts: 'after-bootstrap: /gone/hook.sh'
    }
    const settings = glanceSettingsFromInputs(name => inputs[name] ?? '', {
      cwd: '/work/repo',
      environment: OS_ENV,
      mask: secret => masked.push(secret)
    })
    expect(settings?.auth).toMatchObject({ type: 'password', username: 'ci', password: 's3cret-password' })
    expect(masked).toEqual(['s3cret-password'])
  })

  it('names what is wrong with the Glance inputs, and is empty without credentials', () => {
    const gone: Inputs = { 'clouds-yaml': '/gone/clouds.yaml', cloud: 'lab' }
    expect(() => glanceSettingsFromInputs(name => gone[name] ?? '', { cwd: '/work/repo' })).toThrow(
      ConfigError
    )
    expect(glanceSettingsFromInputs(() => '', { cwd: '/work/repo', environment: {} })).toBeUndefined()
  })
})

describe('targets', () => {
  const CLOUDS = [
    'clouds:',
    '  lab:',
    '    region_name: RegionOne',
    '    auth:',
    '      auth_url: https://keystone.lab.example/v3',
    '      username: ci',
    '      password: lab-password',
    '      project_name: images',
    '  other:',
    '    auth:',
    '      auth_url: https://keystone.other.example/v3',
    '      username: ci',
    '      password: other-password',
    '      project_name: images'
  ].join('\n')
  const labels = (c: Config): string[] => c.glance?.targets.map(target => target.label) ?? []

  it('OS_* alone is one target, in its region or the default one', () => {
    expect(labels(config({}, OS_ENV).config)).toEqual(['OS/default'])
    expect(labels(config({}, { ...OS_ENV, OS_REGION_NAME: 'RegionTwo' }).config)).toEqual(['OS/RegionTwo'])
    expect(labels(config({ region: 'RegionThree' }, OS_ENV).config)).toEqual(['OS/RegionThree'])
    expect(labels(config({ regions: 'RegionOne RegionTwo' }, OS_ENV).config)).toEqual([
      'OS/RegionOne',
      'OS/RegionTwo'
    ])
  })

  it('is each cloud in each region given, or in its own region, in the order given', () => {
    const { config: own, masked } = config({ clouds: 'lab\nother', 'clouds-yaml': CLOUDS })
    expect(labels(own)).toEqual(['lab/RegionOne', 'other/default'])
    expect(own.glance?.settings).toBe(own.glance?.targets[0]?.settings)
    expect(own.glance?.targets[1]?.settings.auth.authUrl).toBe('https://keystone.other.example/v3')
    expect(masked).toEqual(expect.arrayContaining(['lab-password', 'other-password']))
    const crossed = config({ clouds: 'lab other', regions: 'RegionOne, RegionTwo', 'clouds-yaml': CLOUDS })
    expect(labels(crossed.config)).toEqual([
      'lab/RegionOne',
      'lab/RegionTwo',
      'other/RegionOne',
      'other/RegionTwo'
    ])
  })

  it('defaults: 3 parallel uploads, 2 upload retries, rotation deletes, no stable name', () => {
    expect(config({}, OS_ENV).config.glance).toMatchObject({
      parallelUploads: 3,
      uploadRetries: 2,
      rotate: 'delete'
    })
    expect(config({}, OS_ENV).config.glance?.stableName).toBeUndefined()
    expect(
      config(
        { rotate: 'hide', 'stable-name': 'Arch Linux', 'parallel-uploads': '1', 'upload-retries': '0' },
        OS_ENV
      ).config.glance
    ).toMatchObject({ rotate: 'hide', stableName: 'Arch Linux', parallelUploads: 1, uploadRetries: 0 })
  })

  it('stores: none by default; space or newline separated store ids; bad or repeated ids named', () => {
    expect(config({}, OS_ENV).config.glance?.stores).toEqual([])
    expect(config({ stores: ' fast slow\nceph_2 ' }, OS_ENV).config.glance?.stores).toEqual([
      'fast',
      'slow',
      'ceph_2'
    ])
    expect(problems({ stores: 'fast fa/st os_glance_staging_store fast' }, OS_ENV)).toEqual([
      `stores: "fa/st" is not accepted; use store ids as Glance's enabled_backends names them (letters, digits, '_', '-', '.'; not os_glance_*)`,
      `stores: "os_glance_staging_store" is not accepted; use store ids as Glance's enabled_backends names them (letters, digits, '_', '-', '.'; not os_glance_*)`,
      'stores: fast is given more than once'
    ])
  })

  it('refuses bad values at config time, naming the input and what is accepted', () => {
    expect(
      problems(
        {
          clouds: 'lab other',
          cloud: 'lab',
          regions: 'RegionOne RegionOne',
          region: 'RegionTwo',
          'clouds-yaml': CLOUDS,
          rotate: 'archive',
          'stable-name': 'Arch\nLinux',
          'parallel-uploads': '0',
          'upload-retries': 'many'
        },
        {}
      )
    ).toEqual([
      'clouds: give the clouds either as cloud (one) or as clouds (several), not both',
      'regions: give the regions either as region (one) or as regions (several), not both',
      'regions: RegionOne given more than once',
      'clouds: the target lab/RegionOne is given twice (two clouds with the same name and region?); each cloud and region once',
      'clouds: the target other/RegionOne is given twice (two clouds with the same name and region?); each cloud and region once',
      'rotate: "archive" is not accepted; use delete (older images are deleted) or hide (they get os_hidden)',
      'stable-name: "Arch\\nLinux" is not accepted; use one line of at most 200 characters, without leading or trailing spaces',
      'parallel-uploads: "0" is not accepted; use a whole number from 1 to 16',
      'upload-retries: "many" is not accepted; use a whole number from 0 to 10'
    ])
    expect(problems({ clouds: 'lab missing', 'clouds-yaml': CLOUDS })).toEqual([
      expect.stringMatching(/^cloud 'missing' is not in clouds-yaml \(it has: lab, other\)/)
    ])
    expect(problems({ regions: 'Region/One' }, OS_ENV)).toEqual([
      'regions: "Region/One" is not accepted; use names of letters, digits and ._:@- separated by spaces or newlines'
    ])
  })
})
