import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ARCH_RELEASE_KEYS, shippedKeyring, userKeyring } from '../../src/bootstrap-env/keys.js'
import { dearmor, keyringFileProblem, readKeyring } from '../../src/openpgp/keyring.js'
import { TestKeys } from '../../test/support/gpg-keys.js'
import { tempDir } from '../../test/support/temp-dir.js'
import { config, problemsOf, type Inputs } from '../../test/support/config.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const SHIPPED = path.join(ROOT, 'src/bootstrap-env/keys/archlinux-release.gpg')

/** gpg's view of a keyring file: `pub`/`sec`, fingerprint, creation and expiry of each primary key. */
function primaryKeys(
  file: string
): { kind: string; fingerprint: string; created: number; expires?: number }[] {
  const home = path.join(tempDir(), 'gnupg')
  mkdirSync(home, { mode: 0o700 })
  const listing = execFileSync('gpg', ['--batch', '--homedir', home, '--with-colons', '--show-keys', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const keys: ReturnType<typeof primaryKeys> = []
  let pending: Omit<ReturnType<typeof primaryKeys>[number], 'fingerprint'> | undefined
  for (const fields of listing.split('\n').map(line => line.split(':'))) {
    if (fields[0] === 'pub' || fields[0] === 'sec') {
      pending = {
        kind: fields[0],
        created: Number(fields[5]),
        expires: fields[6] ? Number(fields[6]) : undefined
      }
    } else if (fields[0] === 'fpr' && pending) {
      keys.push({ ...pending, fingerprint: fields[9] as string })
      pending = undefined
    } else if (fields[0] === 'sub') {
      pending = undefined
    }
  }
  return keys
}

describe('the shipped keyring', () => {
  it('holds exactly the two release keys, public only, with their dates', () => {
    expect(primaryKeys(SHIPPED)).toEqual([
      {
        kind: 'pub',
        fingerprint: '3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C',
        created: 1667207511, // 2022-10-31
        expires: 2140247511 // 2037-10-27
      },
      { kind: 'pub', fingerprint: '4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC', created: 1302428133 } // 2011-04-10
    ])
    expect(ARCH_RELEASE_KEYS.map(key => key.fingerprint)).toEqual(
      primaryKeys(SHIPPED).map(key => key.fingerprint)
    )
  })

  it('is what shippedKeyring() reads, and docs/keys.md names its sha256 and both fingerprints', () => {
    const bytes = readFileSync(SHIPPED)
    expect(shippedKeyring().bytes.equals(bytes)).toBe(true)
    const docs = readFileSync(path.join(ROOT, 'docs/keys.md'), 'utf8')
    expect(docs).toContain(createHash('sha256').update(bytes).digest('hex'))
    for (const key of ARCH_RELEASE_KEYS) expect(docs).toContain(key.fingerprint)
  })
})

describe('keyring files', () => {
  const dir = tempDir()
  const keys = new TestKeys(dir)
  keys.generate('key@t.invalid')
  const write = (name: string, content: Buffer | string) => {
    const file = path.join(dir, name)
    writeFileSync(file, content)
    return file
  }
  const binary = write('binary.gpg', keys.export(['key@t.invalid']))
  const armored = write('armored.asc', keys.export(['key@t.invalid'], true))
  const secret = write('secret.gpg', keys.exportSecret('key@t.invalid'))
  afterAll(() => keys.close())

  it('takes binary and ASCII-armored public keys (armor becomes the same binary packets)', () => {
    expect(keyringFileProblem(binary)).toBeUndefined()
    expect(keyringFileProblem(armored)).toBeUndefined()
    expect(userKeyring(armored).bytes.equals(readFileSync(binary))).toBe(true)
    expect(userKeyring(binary)).toEqual({
      bytes: readFileSync(binary),
      name: `the bootstrap-keyring ${binary}`
    })
  })

  it('says what is wrong with anything else', () => {
    expect(keyringFileProblem(path.join(dir, 'missing.gpg'))).toBe('does not exist')
    expect(keyringFileProblem(dir)).toBe('is not a file')
    expect(keyringFileProblem(secret)).toMatch(/holds a secret key/)
    expect(keyringFileProblem(write('text', 'hello\n'))).toBe('is not OpenPGP public key material')
    expect(keyringFileProblem(write('empty', ''))).toBe('is not OpenPGP public key material')
    const signature = readFileSync(armored, 'utf8').replaceAll('PUBLIC KEY BLOCK', 'SIGNATURE')
    expect(keyringFileProblem(write('sig.asc', signature))).toBe('is ASCII armor without a PUBLIC KEY BLOCK')
  })

  it('takes a GnuPG keybox', () => {
    const kbx = Buffer.alloc(32)
    kbx.write('KBXf', 8, 'latin1')
    expect(readKeyring(kbx)).toEqual({ bytes: kbx })
  })

  it('dearmor: headers, CRC line and several blocks', () => {
    const one = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256))
    const two = Buffer.from('second block')
    const armor = (data: Buffer) =>
      [
        '-----BEGIN PGP PUBLIC KEY BLOCK-----',
        'Comment: test',
        '',
        ...(data.toString('base64').match(/.{1,64}/g) as string[]),
        '=abcd',
        '-----END PGP PUBLIC KEY BLOCK-----',
        ''
      ].join('\n')
    expect(dearmor(armor(one))?.equals(one)).toBe(true)
    expect(dearmor(`${armor(one)}${armor(two)}`)?.equals(Buffer.concat([one, two]))).toBe(true)
    expect(dearmor('\x99\x01binary')).toBeUndefined()
  })

  describe('the bootstrap-keyring input', () => {
    const read = (inputs: Inputs) => config(inputs, { cwd: dir })
    const problems = (inputs: Inputs) => problemsOf(inputs, { cwd: dir })

    it('is empty by default (the shipped keys), else a path resolved from the working directory', () => {
      expect(read({}).packages.bootstrapKeyring).toBeUndefined()
      expect(read({ 'bootstrap-keyring': 'armored.asc' }).packages.bootstrapKeyring).toBe(armored)
    })

    it('is refused at config time when it is not a public keyring, naming the input', () => {
      expect(problems({ 'bootstrap-keyring': 'missing.gpg' })).toEqual([
        'bootstrap-keyring: "missing.gpg" does not exist; use a file of OpenPGP public keys, binary or ASCII-armored (gpg --export [--armor] KEY)'
      ])
      expect(problems({ 'bootstrap-keyring': '.' })[0]).toMatch(/^bootstrap-keyring: "\." is not a file; /)
      expect(problems({ 'bootstrap-keyring': 'secret.gpg' })[0]).toMatch(
        /^bootstrap-keyring: "secret\.gpg" holds a secret key/
      )
      expect(problems({ 'bootstrap-keyring': 'text' })[0]).toMatch(
        /^bootstrap-keyring: "text" is not OpenPGP public key material; /
      )
    })

    it('warns that pacman-from host does not use it', () => {
      expect(read({ 'bootstrap-keyring': binary, 'pacman-from': 'host' }).warnings).toContain(
        'bootstrap-keyring: not used with pacman-from host (it checks the bootstrap tarball only)'
      )
    })
  })
})
