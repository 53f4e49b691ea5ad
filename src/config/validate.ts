// Checks shared by the section parsers. Each one that can refuse a value pushes one problem naming the
// input and what is accepted, and returns a usable value so the other inputs are still checked.
import { statSync } from 'node:fs'

export const MiB = 1024 * 1024

export function quote(value: string): string {
  return JSON.stringify(value)
}

export function oneOf<T extends string>(
  problems: string[],
  input: string,
  value: string,
  accepted: readonly T[],
  extra = ''
): T {
  if ((accepted as readonly string[]).includes(value)) return value as T
  problems.push(`${input}: ${quote(value)} is not accepted; use one of ${accepted.join(', ')}${extra}`)
  return accepted[0] as T
}

export function parseBool(problems: string[], input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  problems.push(`${input}: ${quote(value)} is not accepted; use true or false`)
  return false
}

export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(text.trim())
  if (!match) return undefined
  const units: Record<string, number> = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }
  const unit = units[(match[2] ?? '').toUpperCase()]
  if (unit === undefined) return undefined
  if (!match[2] && match[3]) return undefined
  return Math.round(Number(match[1]) * unit)
}

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean)
}

/** Why an image name or family is refused, or undefined. */
export function nameProblem(input: string, value: string, pattern: RegExp, max: number): string | undefined {
  if (pattern.test(value)) return undefined
  const plus = value.includes('+')
    ? "; not '+': GitHub renames it in release asset names and a hand-written Glance query reads it as a space"
    : ''
  return `${input}: ${JSON.stringify(value)} is not accepted; use letters, digits, '.', '_' or '-' (starting with a letter or digit, at most ${max})${plus}`
}

/** A file:// URL must name an absolute path and no host (`file://dir/x` reads `dir` as a host). */
export function fileUrlProblem(input: string, url: string): string | undefined {
  if (!/^file:/i.test(url) || /^file:\/\/\/(?!\/)/.test(url)) return undefined
  return `${input}: ${quote(url)} is not an absolute file URL; use file:///absolute/path (three slashes: no host part)`
}

/** A directory the build writes into must be one of its own. */
export function directoryProblem(input: string, dir: string): string | undefined {
  if (dir !== '/' && !/[\n\0]/.test(dir)) return undefined
  return `${input}: ${quote(dir)} is not accepted; use a directory of its own`
}

export function validDate(text: string): boolean {
  const match = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(text)
  if (!match) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}

export function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory()
  } catch {
    return false
  }
}
