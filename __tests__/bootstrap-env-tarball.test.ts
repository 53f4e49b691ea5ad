import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  ChecksumMismatchError,
  NotPublishedError,
  bootstrapUrls,
  dearmor,
  fetchVerifiedTarball,
  interpretGpgvStatus,
  mirrorBase,
  obtainBootstrapTarball,
  parseChecksums,
  releaseFromChecksums,
  releasesForDate,
  tarballName,
  toolCacheVersion
} from '../src/bootstrap-env/tarball.js'
import { Exec } from '../src/pipeline/exec.js'
import { MemoryLog } from './helpers/memory-log.js'

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

describe('dearmor', () => {
  it('turns armored key blocks (headers, CRC line, several blocks) into their binary packets', () => {
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
})

describe('gpgv status', () => {
  const fpr = '3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C'
  const good = [
    '[GNUPG:] NEWSIG',
    `[GNUPG:] KEY_CONSIDERED ${fpr} 0`,
    '[GNUPG:] SIG_ID abc 2026-04-01 1775056468',
    `[GNUPG:] GOODSIG 76A5EF9054449A5C Pierre Schmitz <pierre@archlinux.org>`,
    `[GNUPG:] VALIDSIG ${fpr} 2026-04-01 1775056468 0 4 0 22 10 00 ${fpr}`
  ].join('\n')

  it('accepts a good signature and reports the primary key', () => {
    expect(interpretGpgvStatus(good)).toEqual({ status: 'good', fingerprint: fpr })
  })

  it('refuses a bad signature, and a good one by a key Arch lists as revoked', () => {
    expect(interpretGpgvStatus('[GNUPG:] NEWSIG\n[GNUPG:] BADSIG 76A5EF9054449A5C Pierre')).toEqual({
      status: 'bad'
    })
    expect(interpretGpgvStatus(good, new Set([fpr]))).toEqual({ status: 'revoked', fingerprint: fpr })
  })

  it('tells an unknown key from an error', () => {
    expect(
      interpretGpgvStatus(
        `[GNUPG:] ERRSIG 76A5EF9054449A5C 22 10 00 1775056468 9 ${fpr}\n[GNUPG:] NO_PUBKEY 76A5EF9054449A5C`
      )
    ).toEqual({ status: 'unknown-key' })
    expect(interpretGpgvStatus('gpgv: something else')).toEqual({ status: 'error' })
  })
})

describe('fetchVerifiedTarball and obtainBootstrapTarball against a local server', () => {
  let root: string
  let server: http.Server
  let base: string
  const requests: string[] = []
  const log = new MemoryLog()
  const exec = new Exec(log, false)
  const tarball = Buffer.from('pretend this is a zstd tarball\n'.repeat(1000))
  const hash = createHash('sha256').update(tarball).digest('hex')
  const name = 'archlinux-bootstrap-2026.11.01-x86_64.tar.zst'
  const saved = { cache: process.env.RUNNER_TOOL_CACHE, temp: process.env.RUNNER_TEMP }

  function publish(dir: string, files: Record<string, string | Buffer>) {
    mkdirSync(path.join(root, 'site', dir), { recursive: true })
    for (const [file, content] of Object.entries(files))
      writeFileSync(path.join(root, 'site', dir, file), content)
  }

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'arch-image-bootstrap-unit-'))
    publish('iso/2026.11.01', {
      [name]: tarball,
      'archlinux-bootstrap-x86_64.tar.zst': tarball,
      'sha256sums.txt': `${hash}  ${name}\n${hash}  archlinux-bootstrap-x86_64.tar.zst\n`
    })
    publish('iso/latest', {
      'archlinux-bootstrap-x86_64.tar.zst': tarball,
      'sha256sums.txt': `${hash}  ${name}\n${hash}  archlinux-bootstrap-x86_64.tar.zst\n`
    })
    publish('bad/iso/2026.11.01', {
      [name]: Buffer.from('something else'),
      'sha256sums.txt': `${hash}  ${name}\n`
    })
    publish('nosum/iso/2026.11.01', { [name]: tarball, 'sha256sums.txt': `${hash}  other-file\n` })
    server = http.createServer((req, res) => {
      const url = req.url ?? '/'
      requests.push(url)
      const file = path.join(root, 'site', decodeURIComponent(url))
      if (!existsSync(file)) return res.writeHead(404).end()
      res.writeHead(200).end(readFileSync(file))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  beforeEach(() => {
    process.env.RUNNER_TOOL_CACHE = mkdtempSync(path.join(root, 'tools-'))
    process.env.RUNNER_TEMP = mkdtempSync(path.join(root, 'temp-'))
    requests.length = 0
    log.lines = []
  })

  afterAll(async () => {
    process.env.RUNNER_TOOL_CACHE = saved.cache
    process.env.RUNNER_TEMP = saved.temp
    if (saved.cache === undefined) delete process.env.RUNNER_TOOL_CACHE
    if (saved.temp === undefined) delete process.env.RUNNER_TEMP
    await new Promise(resolve => server.close(resolve))
    rmSync(root, { recursive: true, force: true })
  })

  const dated = () => ({
    ...(bootstrapUrls(base, '2026/11/20')[0] as { url: string; checksumsUrl: string }),
    version: '2026.11.01'
  })

  it('downloads, verifies and caches; the next call downloads nothing', async () => {
    const first = await fetchVerifiedTarball({ ...dated(), log, exec, keyrings: [] })
    expect(first).toMatchObject({ version: '2026.11.01', sha256: hash, fromCache: false })
    expect(first.signature).toMatchObject({ status: 'unchecked' })
    expect(first.path).toBe(
      path.join(
        process.env.RUNNER_TOOL_CACHE as string,
        'archlinux-bootstrap/2026.11.1/x86_64/archlinux-bootstrap-x86_64.tar.zst'
      )
    )
    expect(requests).toEqual(['/iso/2026.11.01/sha256sums.txt', `/iso/2026.11.01/${name}`])
    expect(readdirSync(process.env.RUNNER_TEMP as string)).toEqual([])
    requests.length = 0
    const second = await fetchVerifiedTarball({ ...dated(), log, exec, keyrings: [] })
    expect(second).toMatchObject({ path: first.path, fromCache: true })
    expect(requests).toEqual([])
  })

  it('throws a clear error on a checksum mismatch and caches nothing', async () => {
    const source = bootstrapUrls(`${base}/bad`, '2026/11/20')[0] as { url: string; checksumsUrl: string }
    const error = await fetchVerifiedTarball({
      ...source,
      version: '2026.11.01',
      log,
      exec,
      keyrings: []
    }).catch((e: unknown) => e as Error)
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
    const source = bootstrapUrls(`${base}/nosum`, '2026/11/20')[0] as { url: string; checksumsUrl: string }
    await expect(
      fetchVerifiedTarball({ ...source, version: '2026.11.01', log, exec, keyrings: [] })
    ).rejects.toThrow(`${source.checksumsUrl} lists no checksum for ${name}`)
    expect(requests).toEqual(['/nosum/iso/2026.11.01/sha256sums.txt'])
  })

  it('reports an unpublished release as NotPublishedError', async () => {
    const source = bootstrapUrls(base, '2026/12/03')[0] as { url: string; checksumsUrl: string }
    await expect(
      fetchVerifiedTarball({ ...source, version: '2026.12.01', log, exec, keyrings: [] })
    ).rejects.toBeInstanceOf(NotPublishedError)
  })

  it('falls back to the month before when the snapshot month has no release yet', async () => {
    const sources = bootstrapUrls(base, '2026/12/03')
    const found = await obtainBootstrapTarball(
      [...sources, ...bootstrapUrls(base, '2026/11/20')].filter(s => s.version !== '2026.10.01'),
      { log, exec, keyrings: [] }
    )
    expect(found.version).toBe('2026.11.01')
    expect(requests[0]).toBe('/iso/2026.12.01/sha256sums.txt')
    expect(log.lines.join('\n')).toMatch(
      /iso\/2026\.12\.01\/sha256sums\.txt is not published; trying the next source/
    )
  })

  it('learns the release behind iso/latest from its checksums file', async () => {
    const found = await obtainBootstrapTarball(bootstrapUrls(base), { log, exec, keyrings: [] })
    expect(found).toMatchObject({ version: '2026.11.01', fromCache: false })
    requests.length = 0
    const again = await obtainBootstrapTarball(bootstrapUrls(base), { log, exec, keyrings: [] })
    expect(again).toMatchObject({ version: '2026.11.01', fromCache: true, path: found.path })
    expect(requests).toEqual(['/iso/latest/sha256sums.txt'])
  })

  it('reads file:// sources too', async () => {
    const found = await fetchVerifiedTarball({
      ...(bootstrapUrls(`file://${path.join(root, 'site')}`, '2026/11/20')[0] as {
        url: string
        checksumsUrl: string
      }),
      version: '2026.11.01',
      log,
      exec,
      keyrings: []
    })
    expect(found.sha256).toBe(hash)
    expect(requests).toEqual([])
  })

  it('says the signature was not checked when the host has no Arch keyring', async () => {
    await fetchVerifiedTarball({ ...dated(), log, exec, keyrings: [path.join(root, 'no-such-keyring.gpg')] })
    expect(log.lines.join('\n')).toMatch(/signature not checked: no Arch Linux keyring on this host/)
  })
})
