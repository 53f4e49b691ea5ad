import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { defaultImageName, parseSize } from '../../src/config/config.js'
import { DEFAULT_BASE_PACKAGES } from '../../src/config/inputs.js'
import { config, problemsOf, type Inputs } from '../../test/support/config.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('defaults', () => {
  it('builds the official cloud image set as a zlib qcow2 of 2 GiB on ext4', () => {
    const c = config()
    expect(c).toMatchObject({
      mode: 'build',
      image: {
        name: '',
        family: 'arch-cloud',
        format: 'qcow2',
        compression: 'zlib',
        outputDir: '/work/repo/arch-image-out',
        sbom: true
      },
      disk: { sizeBytes: 2 * 1024 ** 3, filesystem: 'ext4' },
      packages: {
        extra: [],
        mirrors: ['https://geo.mirror.pkgbuild.com/$repo/os/$arch'],
        snapshot: { kind: 'none' },
        signatureLevel: 'Required DatabaseOptional',
        cacheDir: '/var/cache/arch-image/pkg'
      },
      warnings: []
    })
    expect(c.packages.base).toEqual(DEFAULT_BASE_PACKAGES.split(' '))
    expect(c.packages.base).toContain('cloud-init')
  })

  it('keeps the package cache in RUNNER_TEMP under Actions', () => {
    expect(config({}, { runnerTemp: '/home/runner/work/_temp' }).packages.cacheDir).toBe(
      '/home/runner/work/_temp/arch-image-pkg'
    )
  })

  it('names the image after the snapshot date, or today for a mirror', () => {
    expect(config({ snapshot: '2026/10/01' }).packages.snapshot).toEqual({ kind: 'date', date: '2026/10/01' })
    expect(defaultImageName('nightly', '2026/10/01', new Date('2026-11-25T10:00:00Z'))).toBe(
      'nightly-20261001'
    )
    expect(defaultImageName('arch-cloud', undefined, new Date('2026-11-25T23:59:00Z'))).toBe(
      'arch-cloud-20261125'
    )
  })
})

describe('accepted values', () => {
  it.each([
    ['512M', 512 * 1024 ** 2],
    ['4096M', 4 * 1024 ** 3],
    ['3GiB', 3 * 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
    ['1T', 1024 ** 4]
  ])('disk-size %s', (text, bytes) => {
    expect(config({ 'disk-size': text }).disk.sizeBytes).toBe(bytes)
  })

  it('splits package lists on spaces, commas and newlines', () => {
    expect(config({ packages: 'htop vim\n  git,core/less\n' }).packages.extra).toEqual([
      'htop',
      'vim',
      'git',
      'core/less'
    ])
  })

  it('appends the repository layout to a bare mirror URL and keeps full ones', () => {
    const c = config({ mirror: 'file:///srv/repo/ https://m.example/$repo/os/$arch' })
    expect(c.packages.mirrors).toEqual([
      'file:///srv/repo/$repo/os/$arch',
      'https://m.example/$repo/os/$arch'
    ])
  })

  it('warns about SigLevel Never but accepts it', () => {
    const c = config({ 'signature-level': 'Never' })
    expect(c.packages.signatureLevel).toBe('Never')
    expect(c.warnings.join()).toMatch(/without checking signatures/)
  })

  it('accepts raw with the default compression and turns compression off', () => {
    expect(config({ format: 'raw' }).image.compression).toBe('none')
  })

  it('takes absolute file:// URLs for the mirror and the Archive', () => {
    const c = config({ mirror: 'file:///srv/repo/$repo/os/$arch', 'archive-url': 'file:///srv/archive/' })
    expect(c.packages.mirrors).toEqual(['file:///srv/repo/$repo/os/$arch'])
    expect(c.packages.archiveUrl).toBe('file:///srv/archive')
  })

  it('takes names of letters, digits and ._-', () => {
    expect(config({ 'image-family': 'arch_cloud.v2-x', 'image-name': 'A.b_c-1' })).toMatchObject({
      image: { family: 'arch_cloud.v2-x', name: 'A.b_c-1' }
    })
  })

  it('resolves relative directories against the workspace', () => {
    const c = config({ 'output-dir': 'out/images', 'package-cache-dir': '../cache' })
    expect(c.image.outputDir).toBe('/work/repo/out/images')
    expect(c.packages.cacheDir).toBe('/work/cache')
  })
})

// Each bad input is rejected with a message that names the input, quotes the bad value and says what is accepted.
const BAD_INPUTS: [Inputs, string, RegExp][] = [
  [{ mode: 'publish' }, 'image-path', /image-path: is empty; mode: publish needs the image file/],
  [{ 'image-path': 'x.qcow2' }, 'image-path', /only read by mode: publish/],
  [{ glance: 'yes' }, 'glance', /"yes" is not accepted; use auto, true or false/],
  [{ glance: 'true' }, 'cloud', /no OpenStack credentials; set cloud/],
  [{ mode: 'deploy' }, 'mode', /"deploy" is not accepted; use one of build, publish, cleanup/],
  [{ 'disk-size': 'big' }, 'disk-size', /"big" is not a size; use a number with K, M, G or T/],
  [{ 'disk-size': '100M' }, 'disk-size', /"100M" is out of range; use between 512M and 2T/],
  [{ 'disk-size': '3T' }, 'disk-size', /out of range/],
  [{ 'disk-size': '-2G' }, 'disk-size', /"-2G" is not a size/],
  [{ 'disk-size': '2X' }, 'disk-size', /"2X" is not a size/],
  [{ filesystem: 'xfs' }, 'filesystem', /"xfs" is not accepted; use one of ext4, btrfs/],
  [{ filesystem: 'EXT4' }, 'filesystem', /"EXT4" is not accepted/],
  [{ format: 'vmdk' }, 'format', /"vmdk" is not accepted; use one of qcow2, raw/],
  [{ compression: 'xz' }, 'compression', /"xz" is not accepted; use one of zlib, zstd, none/],
  [
    { format: 'raw', compression: 'zstd' },
    'compression',
    /"zstd" needs format qcow2; with format raw use none/
  ],
  [{ packages: 'htop; rm -rf /' }, 'packages', /"htop;" is not a package name/],
  [{ packages: '-Syu' }, 'packages', /"-Syu" is not a package name/],
  [{ packages: '$(reboot)' }, 'packages', /"\$\(reboot\)" is not a package name/],
  [{ packages: 'core/' }, 'packages', /"core\/" is not a package name/],
  [{ 'base-packages': 'base ../etc' }, 'base-packages', /"..\/etc" is not a package name/],
  [
    { mirror: 'ftp://mirror.example/arch' },
    'mirror',
    /has scheme ftp:; use http:\/\/, https:\/\/ or file:\/\//
  ],
  [{ mirror: 'not a url' }, 'mirror', /"not" is not a URL/],
  [{ snapshot: 'yesterday' }, 'snapshot', /"yesterday" is not accepted; use latest, a date YYYY\/MM\/DD/],
  [{ snapshot: '2026-11-01' }, 'snapshot', /"2026-11-01" is not accepted/],
  [{ snapshot: '2026/02/30' }, 'snapshot', /"2026\/02\/30" is not accepted/],
  [
    { 'archive-url': 'archive.archlinux.org' },
    'archive-url',
    /is not accepted; use an http:\/\/, https:\/\/ or file:\/\/ URL/
  ],
  [
    { 'signature-level': 'Required Sometimes' },
    'signature-level',
    /"Sometimes" is not a pacman SigLevel; use words of Never, Optional/
  ],
  [{ 'signature-level': 'required' }, 'signature-level', /"required" is not a pacman SigLevel/],
  [{ sbom: 'yes' }, 'sbom', /^sbom: "yes" is not accepted; use true or false$/],
  [{ 'image-name': 'my image' }, 'image-name', /"my image" is not accepted; use letters, digits/],
  [{ 'image-name': '../escape' }, 'image-name', /"..\/escape" is not accepted/],
  [{ 'image-name': '.hidden' }, 'image-name', /".hidden" is not accepted/],
  [{ 'image-family': 'a/b' }, 'image-family', /"a\/b" is not accepted/],
  [{ 'image-name': 'x'.repeat(129) }, 'image-name', /at most 128/],
  [
    { 'image-family': 'arch+cloud' },
    'image-family',
    /"arch\+cloud" is not accepted; use letters, digits, '\.', '_' or '-' .*; not '\+': GitHub renames it/
  ],
  [{ 'image-name': 'arch-2026+1' }, 'image-name', /"arch-2026\+1" is not accepted; .*not '\+'/],
  [{ 'image-name': 'in:arch' }, 'image-name', /"in:arch" is not accepted/],
  [
    { mirror: 'file://relative/path/$repo/os/$arch' },
    'mirror',
    /"file:\/\/relative\/path\/\$repo\/os\/\$arch" is not an absolute file URL; use file:\/\/\/absolute\/path/
  ],
  [{ mirror: 'file:/srv/repo' }, 'mirror', /is not an absolute file URL/],
  [{ mirror: 'file://localhost/srv/repo' }, 'mirror', /is not an absolute file URL/],
  [{ 'archive-url': 'file://archive' }, 'archive-url', /"file:\/\/archive" is not an absolute file URL/],
  [{ 'archive-url': 'file:////srv' }, 'archive-url', /is not an absolute file URL/],
  [
    { 'package-cache-dir': '/var/cache/my pkgs' },
    'package-cache-dir',
    /"\/var\/cache\/my pkgs" contains whitespace, which pacman\.conf's CacheDir splits on/
  ],
  [{ 'package-cache-dir': 'pkg\tcache' }, 'package-cache-dir', /contains whitespace/],
  [{ 'output-dir': '/' }, 'output-dir', /"\/" is not accepted; use a directory of its own/],
  [{ 'package-cache-dir': '/' }, 'package-cache-dir', /"\/" is not accepted/],
  [{ 'source-date-epoch': '2026-12-01' }, 'source-date-epoch', /is not accepted; use a Unix time in seconds/],
  [{ 'expect-sha256': 'abc' }, 'expect-sha256', /is not accepted; use the 64 hex digits of a SHA-256/],
  [{ 'source-date-epoch': '-1' }, 'source-date-epoch', /use a Unix time/],
  [{ 'source-date-epoch': '999999999999' }, 'source-date-epoch', /use a Unix time/]
]

describe('source-date-epoch', () => {
  it('is undefined by default (decided during the run) and a number when given', () => {
    expect(config({}).image.sourceDateEpoch).toBeUndefined()
    expect(config({ 'source-date-epoch': '1700000000' }).image.sourceDateEpoch).toBe(1700000000)
    expect(config({ 'source-date-epoch': '0' }).image.sourceDateEpoch).toBe(0)
  })
})

describe('bad inputs', () => {
  it('has at least 25 cases', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(25)
  })

  it.each(BAD_INPUTS)('%j is rejected naming %s', (inputs, input, message) => {
    const problems = problemsOf(inputs)
    const mine = problems.find(problem => problem.startsWith(`${input}: `))
    expect(mine).toBeDefined()
    expect(mine).toMatch(message)
  })

  it('reports every bad input at once', () => {
    const problems = problemsOf({ filesystem: 'xfs', format: 'vmdk', 'disk-size': '1K' })
    expect(problems.map(p => p.split(':')[0])).toEqual(['disk-size', 'filesystem', 'format'])
    expect(() => config({ filesystem: 'xfs' })).toThrow(/invalid input:\n {2}- filesystem: "xfs"/)
  })
})

describe('parseSize', () => {
  it.each(['', 'G', '1B2', '12 MB extra', '1iB'])('rejects %j', text => {
    expect(parseSize(text)).toBeUndefined()
  })
})

describe('expect-sha256sums and expect-image', () => {
  const digest = 'ab'.repeat(32)
  const sums = (text: string): string => {
    const file = path.join(tempDir(), 'SHA256SUMS')
    writeFileSync(file, text)
    return file
  }

  it("takes the digest of the image's line (<image-name>.<format>) from a file, before any disk", () => {
    const file = sums(`${'cd'.repeat(32)}  img.raw\n${digest}  img.qcow2\n`)
    const image = config({ 'image-name': 'img', 'expect-sha256sums': file }).image
    expect(image.expectSha256).toBe(digest)
    expect(image.expectSha256Sums).toEqual({ location: file, kind: 'file' })
    expect(config({ 'image-name': 'img', format: 'raw', 'expect-sha256sums': file }).image.expectSha256).toBe(
      'cd'.repeat(32)
    )
  })

  it('refuses a file without the image line, naming the file and the name looked for', () => {
    const file = sums(`${digest}  other.qcow2\n`)
    expect(problemsOf({ 'image-name': 'img', 'expect-sha256sums': file })).toEqual([
      `expect-sha256sums: ${file} has no line for img.qcow2 (looked for "<sha256>  img.qcow2")`
    ])
  })

  it('refuses both expect-sha256 and expect-sha256sums, a missing file and plain http to another machine', () => {
    const file = sums(`${digest}  img.qcow2\n`)
    expect(problemsOf({ 'image-name': 'img', 'expect-sha256': digest, 'expect-sha256sums': file })).toEqual([
      'expect-sha256 and expect-sha256sums are both set; give the expected digest one way only'
    ])
    expect(problemsOf({ 'expect-sha256sums': '/nonexistent/SHA256SUMS' })[0]).toMatch(
      /^expect-sha256sums: "\/nonexistent\/SHA256SUMS" is not a file/
    )
    expect(problemsOf({ 'expect-sha256sums': 'http://example.org/SHA256SUMS' })[0]).toMatch(
      /^expect-sha256sums: http:\/\/example.org\/SHA256SUMS is not accepted; use an https URL/
    )
    expect(problemsOf({ 'expect-sha256sums': 'ftp://example.org/SHA256SUMS' })[0]).toMatch(/is not accepted/)
  })

  it('keeps an https or loopback URL for the compare stage, and a file when the name is decided later', () => {
    for (const url of ['https://example.org/SHA256SUMS', 'http://127.0.0.1:8080/SHA256SUMS']) {
      const image = config({ 'expect-sha256sums': url }).image
      expect(image.expectSha256Sums).toEqual({ location: url, kind: 'url' })
      expect(image.expectSha256).toBeUndefined()
    }
    const file = sums(`${digest}  img.qcow2\n`)
    expect(config({ 'expect-sha256sums': file }).image).toMatchObject({
      expectSha256Sums: { location: file, kind: 'file' }
    })
  })

  it('expect-image: an existing file, with an expected digest', () => {
    const reference = sums('image')
    expect(config({ 'expect-sha256': digest, 'expect-image': reference }).image.expectImage).toBe(reference)
    expect(problemsOf({ 'expect-image': reference })).toEqual([
      'expect-image: is compared only when the digests differ; set expect-sha256 or expect-sha256sums too'
    ])
    expect(problemsOf({ 'expect-sha256': digest, 'expect-image': '/nonexistent.qcow2' })[0]).toMatch(
      /^expect-image: "\/nonexistent.qcow2" is not a file/
    )
  })
})
