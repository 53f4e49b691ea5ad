import { describe, expect, it } from '@jest/globals'
import { diffManifests, diffMarkdown, parseManifest } from '../../src/manifest/diff.js'

describe('package diff', () => {
  const previous = parseManifest(
    [
      'base 3-2',
      'curl 8.10.1-1',
      'linux 6.12.1.arch1-1',
      'nano 8.2-1',
      'openssh 9.9p1-1',
      'zstd 1.5.6-1',
      ''
    ].join('\n')
  )
  const current = parseManifest(
    [
      'base 3-2',
      'curl 8.11.0-1',
      'htop 3.3.0-3',
      'linux 6.12.10.arch1-1',
      'openssh 1:9.9p1-1',
      'zstd 1.5.5-1'
    ].join('\n')
  )

  it('finds added, removed, upgraded and downgraded packages with pacman ordering', () => {
    expect(diffManifests(previous, current)).toEqual({
      added: [{ name: 'htop', version: '3.3.0-3' }],
      removed: [{ name: 'nano', version: '8.2-1' }],
      upgraded: [
        { name: 'linux', from: '6.12.1.arch1-1', to: '6.12.10.arch1-1' },
        { name: 'curl', from: '8.10.1-1', to: '8.11.0-1' },
        { name: 'openssh', from: '9.9p1-1', to: '1:9.9p1-1' }
      ],
      downgraded: [{ name: 'zstd', from: '1.5.6-1', to: '1.5.5-1' }]
    })
  })

  it('puts the kernel first in the table, also when it is a switch of kernels', () => {
    const diff = diffManifests(
      parseManifest('curl 8.10.1-1\nlinux 6.12.1.arch1-1\n'),
      parseManifest('curl 8.11.0-1\nlinux-lts 6.6.63-1\n')
    )
    const table = diffMarkdown(diff, 'v1')
    expect(table.split('\n')).toEqual([
      'Packages since v1: 1 upgraded, 0 downgraded, 1 added, 1 removed.',
      '',
      '| package | change | before | now |',
      '| --- | --- | --- | --- |',
      '| linux-lts | added | | 6.6.63-1 |',
      '| linux | removed | 6.12.1.arch1-1 | |',
      '| curl | upgraded | 8.10.1-1 | 8.11.0-1 |',
      ''
    ])
  })

  it('says so when nothing changed', () => {
    expect(diffMarkdown(diffManifests(previous, previous), 'nightly-1')).toBe(
      'No package changes since nightly-1.\n'
    )
  })

  it('refuses a file that is not a manifest', () => {
    expect(() => parseManifest('base 3-2\n<html>not found</html> x y\n')).toThrow(
      /line 2 is not "name version"/
    )
  })
})
