// The host's os-release (os-release(5)): which distribution family a host is.
import { readFileSync } from 'node:fs'

/** The host's os-release text ('' when there is none). */
export function readHostOsRelease(): string {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return readFileSync(file, 'utf8')
    } catch {
      // try the next
    }
  }
  return ''
}

/** The words of ID and ID_LIKE, unquoted: what the host is and says it is like. */
export function osReleaseIds(text: string): string[] {
  const field = (name: string): string[] =>
    new RegExp(`^${name}=["']?([^"'\\n]*)["']?$`, 'm').exec(text)?.[1]?.trim().split(/\s+/) ?? []
  return [...field('ID'), ...field('ID_LIKE')].filter(Boolean)
}

export type HostFamily = 'arch' | 'debian' | 'other'

/** Arch (or like Arch), Debian/Ubuntu (or like them), or anything else. */
export function hostFamily(osRelease: string): HostFamily {
  const ids = osReleaseIds(osRelease)
  if (ids.includes('arch')) return 'arch'
  if (ids.includes('debian') || ids.includes('ubuntu')) return 'debian'
  return 'other'
}
