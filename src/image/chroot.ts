// Commands inside the image: arch-chroot sets up (and tears down) the API mounts below the root;
// the root's own teardown entry covers them if we are killed half-way.
import type { Context } from '../pipeline/context.js'
import type { RunOptions, RunResult } from '../pipeline/exec.js'

export function rootOf(ctx: Context): string {
  if (!ctx.rootDir) throw new Error('BUG: the root filesystem is not mounted')
  return ctx.rootDir
}

export async function inChroot(ctx: Context, argv: string[], options: RunOptions = {}): Promise<RunResult> {
  return ctx.exec.run(['arch-chroot', rootOf(ctx), ...argv], { ...options, privileged: true })
}
