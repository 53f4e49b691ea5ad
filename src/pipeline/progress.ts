// Progress of a long step in the log without flooding it: a line each time another step of percent
// is reached, and optionally also when a while has passed since the last line.

export interface ProgressOptions {
  /** A line each time progress reaches the next multiple of this many percent. */
  stepPercent?: number
  /** Also a line when this long has passed since the last one and progress moved (ms). */
  intervalMs?: number
  now?: () => number
}

/** Returns whether `percent` (0-100, never decreasing) deserves a log line now. */
export function progressThrottle(options: ProgressOptions = {}): (percent: number) => boolean {
  const step = options.stepPercent ?? 10
  const interval = options.intervalMs ?? Infinity
  const now = options.now ?? (() => performance.now())
  let lastPercent = 0
  let lastTime = now()
  return percent => {
    if (percent <= lastPercent) return false
    const time = now()
    const due =
      Math.floor(percent / step) > Math.floor(lastPercent / step) ||
      percent >= 100 ||
      time - lastTime >= interval
    if (!due) return false
    lastPercent = percent
    lastTime = time
    return true
  }
}
