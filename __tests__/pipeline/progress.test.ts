import { describe, expect, it } from '@jest/globals'
import { progressThrottle } from '../../src/pipeline/progress.js'

/** Feeds `updates` ([ms, percent]) to a throttle and returns the percents it let through. */
function passed(updates: [number, number][], options: { stepPercent?: number; intervalMs?: number } = {}) {
  let t = 0
  const due = progressThrottle({ ...options, now: () => t })
  return updates
    .filter(([ms, percent]) => {
      t = ms
      return due(percent)
    })
    .map(([, percent]) => percent)
}

describe('progress lines', () => {
  it('lets through one update per 10 % step reached, and 100 %', () => {
    const everyPercent = Array.from({ length: 101 }, (_, i): [number, number] => [
      i * 10,
      i + 0.5 > 100 ? 100 : i
    ])
    expect(passed(everyPercent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    // Jumps skip steps (qemu-img over a sparse disk), repeats and 0 % say nothing.
    expect(
      passed([
        [0, 0],
        [1, 3.5],
        [2, 3.5],
        [3, 47.25],
        [4, 49],
        [5, 50.01],
        [6, 100],
        [7, 100]
      ])
    ).toEqual([47.25, 50.01, 100])
  })

  it('also after a quiet interval, once progress moved', () => {
    const slow: [number, number][] = [
      [10_000, 1],
      [29_000, 2],
      [31_000, 3],
      [40_000, 4],
      [70_000, 4],
      [75_000, 5],
      [80_000, 10],
      [140_000, 10]
    ]
    expect(passed(slow, { intervalMs: 30_000 })).toEqual([3, 4, 10])
    expect(passed(slow)).toEqual([10])
  })

  it('takes another step size', () => {
    expect(
      passed(
        [
          [0, 20],
          [1, 25],
          [2, 26],
          [3, 75],
          [4, 99.9]
        ],
        { stepPercent: 25 }
      )
    ).toEqual([25, 75])
  })
})
