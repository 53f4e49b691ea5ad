// Reading and writing inside the image's root filesystem, as root, without ever following a link
// out of it (the tree comes from packages; a symlink must not redirect a write onto the host).
import { lstatSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context, InstalledPackage } from '../pipeline/context.js'

/** Absolute host path of `relative` inside the root; throws if a link would lead outside. */
export function insideRoot(rootDir: string, relative: string): string {
  const target = path.join(rootDir, relative)
  if (target !== rootDir && !target.startsWith(`${rootDir}/`))
    throw new Error(`${relative} is outside the image`)
  let parent = path.dirname(target)
  while (parent !== rootDir) {
    try {
      const real = realpathSync(parent)
      if (real !== rootDir && !real.startsWith(`${rootDir}/`))
        throw new Error(`${relative}: ${parent} leads outside the image`)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      parent = path.dirname(parent)
    }
  }
  try {
    if (lstatSync(target).isSymbolicLink())
      throw new Error(`${relative} is a symbolic link in the image; refusing to write through it`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  return target
}

let counter = 0

/** Write a file into the image owned by root:root with `mode`, creating parent directories. */
export async function writeImageFile(
  ctx: Context,
  relative: string,
  content: string,
  mode = 0o644
): Promise<void> {
  const rootDir = ctx.rootDir
  if (!rootDir) throw new Error('BUG: the root filesystem is not mounted')
  const target = insideRoot(rootDir, relative)
  const staged = path.join(ctx.workDir, `staged-${++counter}`)
  writeFileSync(staged, content)
  await ctx.exec.run(
    [
      'install',
      '-D',
      '-m',
      mode.toString(8).padStart(4, '0'),
      '-o',
      'root',
      '-g',
      'root',
      '-T',
      staged,
      target
    ],
    { privileged: true, quiet: true }
  )
}

/** Packages in the image's pacman database (`var/lib/pacman/local/<name>-<ver>/desc`), sorted by name. */
export function readInstalledPackages(rootDir: string): InstalledPackage[] {
  const local = path.join(rootDir, 'var/lib/pacman/local')
  const packages: InstalledPackage[] = []
  for (const entry of readdirSync(local, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const desc = readFileSync(path.join(local, entry.name, 'desc'), 'utf8')
    const field = (name: string): string | undefined => new RegExp(`^%${name}%\\n(.+)$`, 'm').exec(desc)?.[1]
    const name = field('NAME')
    const version = field('VERSION')
    if (name && version) packages.push({ name, version })
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

export function manifestText(packages: InstalledPackage[]): string {
  return packages.map(p => `${p.name} ${p.version}\n`).join('')
}
