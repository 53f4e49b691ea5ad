import { execFileSync } from 'node:child_process'
import { describe, expect, it } from '@jest/globals'
import { vercmp } from '../../src/manifest/vercmp.js'

// Pairs that exercise every rule: epochs, releases, alpha vs numeric segments, leading zeros,
// separators of different lengths, trailing letters ("rc") and Arch's real version styles.
const PAIRS: [string, string][] = [
  ['1.0', '1.0'],
  ['1.0', '1.1'],
  ['1.0-1', '1.0-2'],
  ['1.0-1', '1.0'],
  ['1.0', '1.0-9'],
  ['1:1.0', '2.0'],
  ['0:1.0', '1.0'],
  [':1.0', '1.0'],
  ['2:1.0-1', '1:9.9-9'],
  ['1.0a', '1.0'],
  ['1.0rc1', '1.0'],
  ['1.0.rc1', '1.0'],
  ['1.0', '1.0.0'],
  ['1.0.1', '1.0a'],
  ['1.01', '1.1'],
  ['1.001', '1.10'],
  ['1..0', '1.0'],
  ['1.0', '1_0'],
  ['1.0.a', '1.0.1'],
  ['a', 'b'],
  ['abc', 'abd'],
  ['1', 'a'],
  ['1.0+git20240101', '1.0'],
  ['1.0+2', '1.0.2'],
  ['6.12.1.arch1-1', '6.12.10.arch1-1'],
  ['6.12.9.arch1-1', '6.12.10.arch1-1'],
  ['6.6.63-1', '6.6.63-2'],
  ['2.40-1', '2.40+r16+gaa8e1e6ba2-1'],
  ['1:9.6p1-1', '1:10.0p1-1'],
  ['9.8p1-1', '9.8p1-2'],
  ['2.12.r212.g4dc616657-2', '2:2.12.r212.g4dc616657-2'],
  ['24.4-1', '24.4.1-1'],
  ['20240101', '20231231'],
  ['1.2.3-1.1', '1.2.3-1'],
  ['1.0~beta', '1.0'],
  ['1.0-', '1.0'],
  ['', '0'],
  ['r123.abcdef', 'r124.abc']
]

function hostVercmp(a: string, b: string): number {
  return Number(execFileSync('vercmp', [a, b], { encoding: 'utf8' }).trim())
}

describe('vercmp', () => {
  it.each(PAIRS)('%s vs %s agrees with pacman', (a, b) => {
    expect(vercmp(a, b)).toBe(hostVercmp(a, b))
    expect(vercmp(b, a)).toBe(hostVercmp(b, a))
  })

  it('orders the obvious cases', () => {
    expect(vercmp('6.12.10.arch1-1', '6.12.9.arch1-1')).toBe(1)
    expect(vercmp('1:1.0-1', '9.9-1')).toBe(1)
    expect(vercmp('1.0rc1-1', '1.0-1')).toBe(-1)
  })
})
