// The guest's serial console, as QEMU writes it to a file: read back as plain text for the log, the
// job summary and the heartbeat while we wait for the guest.
import { readFileSync } from 'node:fs'

const CONSOLE_TAIL_LINES = 40

/** The console as text: without terminal control sequences (GRUB's and the firmware's screen
 * drawing, systemd's colours) or carriage returns. */
export function consoleText(raw: string): string {
  return (
    raw
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]/g, '') // CSI, e.g. ESC[0;32m, ESC[=3h
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b[()][0-9A-Za-z]|\x1b[\x40-\x5f]|\x1b[0-9=>]/g, '') // charsets, other escapes
      .replace(/\r/g, '')
  )
}

export function tail(text: string, lines = CONSOLE_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/** The console file as text; empty while QEMU has not created it. */
export function readConsole(file: string): string {
  try {
    return consoleText(readFileSync(file, 'utf8'))
  } catch {
    return ''
  }
}

/** The last line of console text with something on it, for one log line: trimmed, without control
 * characters, at most `max` characters. */
export function lastConsoleLine(text: string, max = 120): string {
  const lines = text.split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string)
      .replace(/\t/g, ' ')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x1f\x7f-\x9f]/g, '')
      .trim()
    if (line) return line.length > max ? `${line.slice(0, max - 1)}…` : line
  }
  return ''
}
