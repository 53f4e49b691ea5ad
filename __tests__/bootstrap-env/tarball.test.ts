import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { TrustedKeyring } from '../../src/bootstrap-env/keys.js'
import {
  CacheEntryError,
  ChecksumMismatchError,
  NotPublishedError,
  SignatureError,
  bootstrapUrls,
  fetchVerifiedTarball,
  mirrorBase,
  obtainBootstrapTarball,
  parseChecksums,
  prepareVerificationDir,
  releaseFromChecksums,
  releasesForDate,
  tarballName,
  toolCacheVersion
} from '../../src/bootstrap-env/tarball.js'
import { ProcessExec } from '../../src/pipeline/exec.js'
import { TestKeys } from '../../test/support/gpg-keys.js'
import { MemoryLog } from '../../test/support/log.js'

// sha256sums.txt of the 2026.04.01 release as a mirror publishes it (four lines: ISO and bootstrap
// tarball, each under its versioned and its versionless name).
const REAL_SUMS = `f14bf46afbe782d28835aed99bfa2fe447903872cb9f4b21153196d6ed1d48ae  archlinux-2026.04.01-x86_64.iso
f14bf46afbe782d28835aed99bfa2fe447903872cb9f4b21153196d6ed1d48ae  archlinux-x86_64.iso
128ea3cf9fe0f6a76b006623c48a38147c31fcb973999a621f79c66624394866  archlinux-bootstrap-2026.04.01-x86_64.tar.zst
128ea3cf9fe0f6a76b006623c48a38147c31fcb973999a621f79c66624394866  archlinux-bootstrap-x86_64.tar.zst
`

describe('release naming', () => {
  it('keys the tool cache by a semver form of the release date (tool-cache finds only explicit semver)', () => {
    expect(toolCacheVersion('2026.11.01')).toBe('2026.11.1')
    expect(toolCacheVersion('2024.05.01')).toBe('2024.5.1')
    expect(toolCacheVersion('0.0.0-0123456789abcdef')).toBe('0.0.0-0123456789abcdef')
    expect(() => toolCacheVersion('latest')).toThrow(/not a bootstrap release/)
  })

  it('looks for the release of the snapshot month, then of the month before', () => {
    expect(releasesForDate('2026/11/20')).toEqual(['2026.11.01', '2026.10.01'])
    expect(releasesForDate('2026/01/01')).toEqual(['2026.01.01', '2025.12.01'])
  })

  it('names the tarball as each era published it', () => {
    expect(tarballName('2026.11.01')).toBe('archlinux-bootstrap-2026.11.01-x86_64.tar.zst')
    expect(tarballName('2024.05.01')).toBe('archlinux-bootstrap-2024.05.01-x86_64.tar.zst')
    expect(tarballName('2024.04.01')).toBe('archlinux-bootstrap-2024.04.01-x86_64.tar.gz')
    expect(tarballName('latest')).toBe('archlinux-bootstrap-x86_64.tar.zst')
  })

  it('finds a mirror base before $repo/os/$arch, and nothing for other shapes', () => {
    expect(mirrorBase('https://geo.mirror.pkgbuild.com/$repo/os/$arch')).toBe(
      'https://geo.mirror.pkgbuild.com'
    )
    expect(mirrorBase('https://mirror.example/archlinux/$repo/os/$arch/')).toBe(
      'https://mirror.example/archlinux'
    )
    expect(mirrorBase('https://mirror.example/$arch/$repo')).toBeUndefined()
    expect(mirrorBase('file:///srv/repo/$repo/os/$arch')).toBe('file:///srv/repo')
  })

  it('builds Archive URLs for a snapshot and iso/latest URLs for a mirror', () => {
    expect(bootstrapUrls('https://archive.archlinux.org/', '2025/11/15')).toEqual([
      {
        version: '2025.11.01',
        url: 'https://archive.archlinux.org/iso/2025.11.01/archlinux-bootstrap-2025.11.01-x86_64.tar.zst',
        checksumsUrl: 'https://archive.archlinux.org/iso/2025.11.01/sha256sums.txt',
        signatureUrl:
          'https://archive.archlinux.org/iso/2025.11.01/archlinux-bootstrap-2025.11.01-x86_64.tar.zst.sig'
      },
      {
        version: '2025.10.01',
        url: 'https://archive.archlinux.org/iso/2025.10.01/archlinux-bootstrap-2025.10.01-x86_64.tar.zst',
        checksumsUrl: 'https://archive.archlinux.org/iso/2025.10.01/sha256sums.txt',
        signatureUrl:
          'https://archive.archlinux.org/iso/2025.10.01/archlinux-bootstrap-2025.10.01-x86_64.tar.zst.sig'
      }
    ])
    expect(bootstrapUrls('https://geo.mirror.pkgbuild.com')).toEqual([
      {
        version: 'latest',
        url: 'https://geo.mirror.pkgbuild.com/iso/latest/archlinux-bootstrap-x86_64.tar.zst',
        checksumsUrl: 'https://geo.mirror.pkgbuild.com/iso/latest/sha256sums.txt',
        signatureUrl: 'https://geo.mirror.pkgbuild.com/iso/latest/archlinux-bootstrap-x86_64.tar.zst.sig'
      }
    ])
  })
})

describe('checksums', () => {
  it('reads a real sha256sums.txt', () => {
    expect(parseChecksums(REAL_SUMS, 'archlinux-bootstrap-x86_64.tar.zst')).toBe(
      '128ea3cf9fe0f6a76b006623c48a38147c31fcb973999a621f79c66624394866'
    )
    expect(parseChecksums(REAL_SUMS, 'archlinux-bootstrap-2026.04.01-x86_64.tar.zst')).toBe(
      '128ea3cf9fe0f6a76b006623c48a38147c31fcb973999a621f79c66624394866'
    )
    expect(parseChecksums(REAL_SUMS, 'archlinux-bootstrap-2026.05.01-x86_64.tar.zst')).toBeUndefined()
  })

  it('accepts binary-mode entries and upper-case hashes, and skips other lines', () => {
    const text = `# comment\n${'AB'.repeat(32)} *file.tar.zst\nnot a line\n`
    expect(parseChecksums(text, 'file.tar.zst')).toBe('ab'.repeat(32))
  })

  it('names the release behind the versionless tarball', () => {
    expect(releaseFromChecksums(REAL_SUMS, 'archlinux-bootstrap-x86_64.tar.zst')).toBe('2026.04.01')
    expect(
      releaseFromChecksums(REAL_SUMS.split('\n').slice(3).join('\n'), 'archlinux-bootstrap-x86_64.tar.zst')
    ).toBe(undefined)
  })
})

describe('fetchVerifiedTarball and obtainBootstrapTarball against a local server', () => {
  let root: string
  let server: http.Server
  let base: string
  let keys: TestKeys
  let keyring: TrustedKeyring
  let workDir: string
  const requests: string[] = []
  const log = new MemoryLog()
  // The "privileged" copies run as this test's own user: root ownership is checked by test/bootstrap-tarball.test.ts.
  const exec = new ProcessExec(log, true)
  const tarball = Buffer.from('pretend this is a zstd tarball\n'.repeat(1000))
  const hash = createHash('sha256').update(tarball).digest('hex')
  const name = 'archlinux-bootstrap-2026.11.01-x86_64.tar.zst'
  const sums = `${hash}  ${name}\n${hash}  archlinux-bootstrap-x86_64.tar.zst\n`
  const saved = { cache: process.env.RUNNER_TOOL_CACHE, temp: process.env.RUNNER_TEMP }

  function publish(dir: string, files: Record<string, string | Buffer>) {
    mkdirSync(path.join(root, 'site', dir), { recursive: true })
    for (const [file, content] of Object.entries(files))
      writeFileSync(path.join(root, 'site', dir, file), content)
  }

  function signed(email: string, files: Record<string, string | Buffer>): Record<string, string | Buffer> {
    const out = { ...files }
    for (const [file, content] of Object.entries(files)) {
      if (!file.includes('.tar.')) continue
      const data = path.join(root, 'to-sign')
      writeFileSync(data, content)
      keys.sign(email, data, `${data}.sig`)
      out[`${file}.sig`] = readFileSync(`${data}.sig`)
    }
    return out
  }

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'arch-image-bootstrap-unit-'))
    keys = new TestKeys(root)
    keys.generate('release@t.invalid')
    keys.generate('other@t.invalid')
    keyring = { bytes: keys.export(['release@t.invalid']), name: 'the test keyring' }
    const release = { [name]: tarball, 'archlinux-bootstrap-x86_64.tar.zst': tarball, 'sha256sums.txt': sums }
    publish('iso/2026.11.01', signed('release@t.invalid', release))
    publish('iso/latest', signed('release@t.invalid', release))
    publish('bad/iso/2026.11.01', {
      ...signed('release@t.invalid', { [name]: Buffer.from('something else') }),
      'sha256sums.txt': `${hash}  ${name}\n`
    })
    publish('nosum/iso/2026.11.01', { [name]: tarball, 'sha256sums.txt': `${hash}  other-file\n` })
    publish('unsigned/iso/2026.11.01', release)
    publish('other-key/iso/2026.11.01', signed('other@t.invalid', release))
    server = http.createServer((req, res) => {
      const url = req.url ?? '/'
      requests.push(url)
      const file = path.join(root, 'site', decodeURIComponent(url))
      if (!existsSync(file)) return res.writeHead(404).end()
      res.writeHead(200).end(readFileSync(file))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }, 60_000)

  beforeEach(() => {
    process.env.RUNNER_TOOL_CACHE = mkdtempSync(path.join(root, 'tools-'))
    process.env.RUNNER_TEMP = mkdtempSync(path.join(root, 'temp-'))
    workDir = mkdtempSync(path.join(root, 'work-'))
    requests.length = 0
    log.lines = []
  })

  afterAll(async () => {
    process.env.RUNNER_TOOL_CACHE = saved.cache
    process.env.RUNNER_TEMP = saved.temp
    if (saved.cache === undefined) delete process.env.RUNNER_TOOL_CACHE
    if (saved.temp === undefined) delete process.env.RUNNER_TEMP
    keys.close()
    await new Promise(resolve => server.close(resolve))
    rmSync(root, { recursive: true, force: true })
  })

  const dated = (site = base) => ({
    ...(bootstrapUrls(site, '2026/11/20')[0] as { url: string; checksumsUrl: string; signatureUrl: string }),
    version: '2026.11.01'
  })
  const options = () => ({ log, exec, keyring, workDir })
  const fetchOne = async (source = dated()) =>
    fetchVerifiedTarball({
      ...source,
      log,
      exec,
      vault: await prepareVerificationDir(exec, workDir, keyring)
    })
  const cacheEntry = () =>
    path.join(process.env.RUNNER_TOOL_CACHE as string, 'archlinux-bootstrap/2026.11.1/x86_64')

  it('downloads, verifies a copy in the work dir and caches tarball, signature and checksum; the next call downloads nothing', async () => {
    const first = await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    expect(first).toMatchObject({
      version: '2026.11.01',
      sha256: hash,
      fromCache: false,
      cacheDir: cacheEntry(),
      signature: { fingerprint: keys.fingerprint('release@t.invalid'), keyring: 'the test keyring' }
    })
    // The verified copy is what the caller extracts: in the work dir, not in the (user-writable) tool cache.
    expect(path.relative(workDir, first.path)).toMatch(
      /^bootstrap-tarball\.\w+\/copy-1\/archlinux-bootstrap-x86_64\.tar\.zst$/
    )
    expect(readFileSync(first.path).equals(tarball)).toBe(true)
    expect(statSync(path.dirname(path.dirname(first.path))).mode & 0o777).toBe(0o755)
    expect(statSync(first.path).mode & 0o777).toBe(0o644)
    expect(requests).toEqual([
      '/iso/2026.11.01/sha256sums.txt',
      `/iso/2026.11.01/${name}`,
      `/iso/2026.11.01/${name}.sig`
    ])
    expect(readdirSync(cacheEntry()).sort()).toEqual([
      'archlinux-bootstrap-x86_64.tar.zst',
      'archlinux-bootstrap-x86_64.tar.zst.sig',
      'sha256sums.txt'
    ])
    expect(readdirSync(process.env.RUNNER_TEMP as string)).toEqual([])

    requests.length = 0
    const second = await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    expect(second).toMatchObject({ fromCache: true, cacheDir: cacheEntry(), sha256: hash })
    expect(second.path).not.toBe(first.path)
    expect(requests).toEqual([])
    expect(log.lines.join('\n')).toMatch(/from the tool cache .*: sha256 \w+, good signature by/)
  })

  it('refuses a tool cache entry whose tarball and checksum were rewritten together', async () => {
    await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    const forged = Buffer.from('forged tarball')
    writeFileSync(path.join(cacheEntry(), 'archlinux-bootstrap-x86_64.tar.zst'), forged)
    writeFileSync(
      path.join(cacheEntry(), 'sha256sums.txt'),
      `${createHash('sha256').update(forged).digest('hex')}  archlinux-bootstrap-x86_64.tar.zst\n`
    )
    requests.length = 0
    const error = (await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options()).catch(
      (caught: unknown) => caught
    )) as Error
    expect(error).toBeInstanceOf(CacheEntryError)
    expect(error.message).toContain(`tool cache entry ${cacheEntry()} does not verify`)
    expect(error.message).toContain(`(downloaded from ${dated().signatureUrl}): BAD signature`)
    expect(error.message).toContain(`Delete ${cacheEntry()} to download the release again`)
    expect(requests).toEqual([])
  })

  it('refuses a tool cache entry whose tarball alone changed', async () => {
    await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    writeFileSync(path.join(cacheEntry(), 'archlinux-bootstrap-x86_64.tar.zst'), 'changed')
    await expect(obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())).rejects.toThrow(
      /does not verify: archlinux-bootstrap-x86_64\.tar\.zst has sha256 \w+, but the checksum kept with it is/
    )
  })

  it('downloads again over an entry without a signature (cached before signatures were kept)', async () => {
    await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    rmSync(path.join(cacheEntry(), 'archlinux-bootstrap-x86_64.tar.zst.sig'))
    requests.length = 0
    const again = await obtainBootstrapTarball(bootstrapUrls(base, '2026/11/20'), options())
    expect(again.fromCache).toBe(false)
    expect(log.lines.join('\n')).toMatch(/tool cache entry .* is incomplete/)
    expect(existsSync(path.join(cacheEntry(), 'archlinux-bootstrap-x86_64.tar.zst.sig'))).toBe(true)
  })

  it('refuses a tarball whose signature is not published, naming the file and the signature URL', async () => {
    const source = dated(`${base}/unsigned`)
    const error = (await fetchOne(source).catch((caught: unknown) => caught)) as Error
    expect(error).toBeInstanceOf(SignatureError)
    expect(error.message).toBe(
      `${name}: signature ${source.signatureUrl}: not published (a bootstrap tarball is used only with a good signature); not using it`
    )
    expect(readdirSync(process.env.RUNNER_TOOL_CACHE as string)).toEqual([])
  })

  it('refuses a tarball signed by a key the keyring does not hold; caches nothing', async () => {
    const source = dated(`${base}/other-key`)
    const error = (await fetchOne(source).catch((caught: unknown) => caught)) as Error
    expect(error).toBeInstanceOf(SignatureError)
    expect(error.message).toBe(
      `${name}: signature ${source.signatureUrl}: signed by key ${keys.fingerprint('other@t.invalid')}, which is not in the test keyring; not using it`
    )
    expect(readdirSync(process.env.RUNNER_TOOL_CACHE as string)).toEqual([])
    expect(readdirSync(process.env.RUNNER_TEMP as string)).toEqual([])
  })

  it('throws a clear error on a checksum mismatch and caches nothing', async () => {
    const source = dated(`${base}/bad`)
    const error = await fetchOne(source).catch((e: unknown) => e as Error)
    expect(error).toBeInstanceOf(ChecksumMismatchError)
    const actual = createHash('sha256').update('something else').digest('hex')
    expect((error as Error).message).toBe(
      `${name} downloaded from ${source.url} has sha256 ${actual}, but ${source.checksumsUrl} lists ${hash}: ` +
        'the download was discarded before extraction (a corrupt or tampered file, or a mirror caught mid-sync)'
    )
    expect(readdirSync(process.env.RUNNER_TOOL_CACHE as string)).toEqual([])
    expect(readdirSync(process.env.RUNNER_TEMP as string)).toEqual([])
  })

  it('refuses a tarball the checksums file does not list, before downloading it', async () => {
    const source = dated(`${base}/nosum`)
    await expect(fetchOne(source)).rejects.toThrow(`${source.checksumsUrl} lists no checksum for ${name}`)
    expect(requests).toEqual(['/nosum/iso/2026.11.01/sha256sums.txt'])
  })

  it('reports an unpublished release as NotPublishedError', async () => {
    const source = bootstrapUrls(base, '2026/12/03')[0] as { url: string; checksumsUrl: string }
    await expect(
      fetchOne({ ...source, version: '2026.12.01' } as ReturnType<typeof dated>)
    ).rejects.toBeInstanceOf(NotPublishedError)
  })

  it('falls back to the month before when the snapshot month has no release yet', async () => {
    const sources = bootstrapUrls(base, '2026/12/03')
    const found = await obtainBootstrapTarball(
      [...sources, ...bootstrapUrls(base, '2026/11/20')].filter(s => s.version !== '2026.10.01'),
      options()
    )
    expect(found.version).toBe('2026.11.01')
    expect(requests[0]).toBe('/iso/2026.12.01/sha256sums.txt')
    expect(log.lines.join('\n')).toMatch(
      /iso\/2026\.12\.01\/sha256sums\.txt is not published; trying the next source/
    )
  })

  it('learns the release behind iso/latest from its checksums file', async () => {
    const found = await obtainBootstrapTarball(bootstrapUrls(base), options())
    expect(found).toMatchObject({ version: '2026.11.01', fromCache: false })
    requests.length = 0
    const again = await obtainBootstrapTarball(bootstrapUrls(base), options())
    expect(again).toMatchObject({ version: '2026.11.01', fromCache: true, cacheDir: found.cacheDir })
    expect(requests).toEqual(['/iso/latest/sha256sums.txt'])
  })

  it('reads file:// sources too', async () => {
    const found = await fetchOne(dated(`file://${path.join(root, 'site')}`))
    expect(found.sha256).toBe(hash)
    expect(requests).toEqual([])
  })
})
