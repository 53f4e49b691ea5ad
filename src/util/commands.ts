// Whether a program is on PATH, without running a shell.
import { accessSync, constants } from 'node:fs'
import path from 'node:path'

/** The executable `command` resolves to on PATH, or undefined. */
export function findCommand(
  command: string,
  searchPath: string = process.env.PATH ?? ''
): string | undefined {
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const candidate = path.join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}
