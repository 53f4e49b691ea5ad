// files: the user's directory copied over the image root, owned by root, modes and symlinks kept.
import { lstatSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { Stage } from '../pipeline/runner.js'
import { rootOf } from '../image/chroot.js'
import { insideRoot } from '../image/rootfs.js'

/** Every path of the tree, relative, parents first. */
export function walk(dir: string, prefix = ''): string[] {
  const paths: string[] = []
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1
  )) {
    const relative = path.join(prefix, entry.name)
    paths.push(relative)
    if (entry.isDirectory() && !lstatSync(path.join(dir, relative)).isSymbolicLink())
      paths.push(...walk(dir, relative))
  }
  return paths
}

export const overlayStage: Stage = {
  name: 'files',
  enabled: ctx => ctx.config.configure.filesDir !== undefined,
  async run(ctx) {
    const source = ctx.config.configure.filesDir as string
    const root = rootOf(ctx)
    // Refuse before copying anything if a path would be written through a link leading out of the image.
    for (const relative of walk(source)) {
      const target = path.join(root, relative)
      let existing
      try {
        existing = lstatSync(target)
      } catch {
        existing = undefined
      }
      if (existing?.isSymbolicLink()) continue // replaced, not followed (--remove-destination)
      insideRoot(root, relative)
    }
    await ctx.exec.run(
      [
        'cp',
        '--recursive',
        '--no-dereference',
        '--preserve=mode,timestamps,links',
        '--remove-destination',
        '-T',
        source,
        root
      ],
      { privileged: true }
    )
    ctx.log.info(`copied ${walk(source).length} paths from ${source}`)
  }
}
