// Hook scripts: the user's scripts run inside the image at a named point, each in its own log group,
// with the build's facts as ARCH_IMAGE_* variables and nothing else of ours (see hookEnvironment).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { HookPoint } from '../config/config.js'
import type { Context } from '../pipeline/context.js'
import { CommandError } from '../pipeline/exec.js'
import type { Stage } from '../pipeline/runner.js'
import { inChroot, rootOf } from '../image/chroot.js'
import { insideRoot, writeImageFile } from '../image/rootfs.js'

/**
 * The variables a hook script gets from us, on top of the exec seam's allowlist (PATH, LANG,
 * LC_ALL=C.UTF-8, TZ, HOME, TERM, SOURCE_DATE_EPOCH, the proxy variables): what the build is, never a
 * credential. Documented with the `scripts` input.
 */
export function hookEnvironment(ctx: Context, point: HookPoint): Record<string, string> {
  return {
    ARCH_IMAGE_IMAGE_NAME: ctx.imageName,
    ARCH_IMAGE_FAMILY: ctx.config.image.family,
    ARCH_IMAGE_SNAPSHOT: ctx.snapshotDate ?? '',
    ARCH_IMAGE_KERNEL: ctx.config.configure.kernel,
    ARCH_IMAGE_FILESYSTEM: ctx.config.disk.filesystem,
    ARCH_IMAGE_BOOT_MODE: ctx.config.configure.bootMode,
    ARCH_IMAGE_HOOK_POINT: point
  }
}

export function hookStage(point: HookPoint): Stage {
  return {
    name: `hooks ${point}`,
    ownGroups: true,
    enabled: ctx => ctx.config.configure.scripts.some(script => script.point === point),
    async run(ctx) {
      const scripts = ctx.config.configure.scripts.filter(script => script.point === point)
      for (const [index, script] of scripts.entries()) {
        const name = path.basename(script.path)
        const inImage = `var/tmp/arch-image-hook-${index}-${name.replace(/[^\w.-]/g, '_')}`
        ctx.log.startGroup(`hook ${point}: ${name}`)
        try {
          await writeImageFile(ctx, inImage, readFileSync(script.path, 'utf8'), 0o755)
          const hasShebang = readFileSync(script.path, 'utf8').startsWith('#!')
          await inChroot(ctx, hasShebang ? [`/${inImage}`] : ['/bin/sh', `/${inImage}`], {
            env: hookEnvironment(ctx, point)
          })
        } catch (error) {
          if (error instanceof CommandError) {
            throw new Error(
              `hook script ${script.path} (${point}) exited with code ${error.code ?? error.signal}:\n${error.stderrTail}`
            )
          }
          throw error
        } finally {
          await ctx.exec
            .run(['rm', '-f', '--', insideRoot(rootOf(ctx), inImage)], { privileged: true, quiet: true })
            .catch(() => {})
          ctx.log.endGroup()
        }
      }
    }
  }
}
