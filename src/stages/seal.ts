// seal: remove what must not ship (host keys, keyring, caches, logs, machine identity), then lint:
// fail the build if any of it is still there. Then the package manifest, sync and fstrim.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { configLint } from '../image/lint.js'
import { insideRoot, manifestText, readInstalledPackages, writeImageFile } from '../image/rootfs.js'

/** One thing the image must not contain: `find` arguments below the root. */
export interface SealRule {
  what: string
  dir: string
  find: string[]
}

export const SEAL_RULES: SealRule[] = [
  { what: 'SSH host keys', dir: 'etc/ssh', find: ['-maxdepth', '1', '-name', 'ssh_host_*'] },
  { what: 'pacman keyring', dir: 'etc/pacman.d', find: ['-maxdepth', '1', '-name', 'gnupg'] },
  { what: 'package cache', dir: 'var/cache/pacman/pkg', find: ['-mindepth', '1', '-maxdepth', '1'] },
  { what: 'pacman sync databases', dir: 'var/lib/pacman/sync', find: ['-mindepth', '1', '-maxdepth', '1'] },
  { what: 'log files', dir: 'var/log', find: ['-mindepth', '1', '!', '-type', 'd'] },
  { what: 'D-Bus machine id', dir: 'var/lib/dbus', find: ['-maxdepth', '1', '-name', 'machine-id'] },
  { what: 'systemd random seed', dir: 'var/lib/systemd', find: ['-maxdepth', '1', '-name', 'random-seed'] },
  // glibc's ldconfig records the libraries' inode numbers and times there: it differs between two
  // identical trees, and ldconfig remakes it.
  {
    what: 'ldconfig auxiliary cache',
    dir: 'var/cache/ldconfig',
    find: ['-maxdepth', '1', '-name', 'aux-cache']
  },
  { what: 'shell history', dir: 'root', find: ['-maxdepth', '1', '-name', '.*_history'] },
  { what: 'temporary files', dir: 'tmp', find: ['-mindepth', '1', '-maxdepth', '1'] },
  { what: 'temporary files', dir: 'var/tmp', find: ['-mindepth', '1', '-maxdepth', '1'] }
]

/**
 * The rule's directory on the host, through the same guard as every write into the image: a link
 * there (or above it) leading out of the image would point find and rm -rf at the host's files.
 */
function ruleDir(rootDir: string, rule: SealRule): string {
  try {
    return insideRoot(rootDir, rule.dir)
  } catch (error) {
    throw new Error(
      `cannot seal ${rule.what} in /${rule.dir}: ${(error as Error).message}; ` +
        'the image must have a real directory there (did a hook script or package replace it with a link?)'
    )
  }
}

async function matches(ctx: Context, rule: SealRule): Promise<string[]> {
  const dir = ruleDir(ctx.rootDir as string, rule)
  const result = await ctx.exec.run(['find', dir, '-xdev', ...rule.find, '-print0'], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  // A missing directory is fine: nothing of that kind to remove.
  return result.stdout.split('\0').filter(Boolean)
}

/** What of the seal list is still in the image; empty when it is sealed. */
export async function sealLint(ctx: Context): Promise<string[]> {
  const problems: string[] = []
  for (const rule of SEAL_RULES) {
    for (const found of await matches(ctx, rule)) {
      problems.push(`${rule.what}: /${path.relative(ctx.rootDir as string, found)}`)
    }
  }
  const machineId = await ctx.exec.run(
    ['stat', '-c', '%s', insideRoot(ctx.rootDir as string, 'etc/machine-id')],
    {
      privileged: true,
      allowFailure: true,
      quiet: true
    }
  )
  if (machineId.code !== 0)
    problems.push('machine id: /etc/machine-id is missing (it must exist and be empty)')
  else if (machineId.stdout.trim() !== '0') problems.push('machine id: /etc/machine-id is not empty')
  return problems
}

export const sealStage: Stage = {
  name: 'seal',
  async run(ctx) {
    const rootDir = ctx.rootDir
    if (!rootDir) throw new Error('BUG: root not mounted')
    // Every rule's directory is checked before anything is removed.
    for (const rule of SEAL_RULES) ruleDir(rootDir, rule)
    for (const rule of SEAL_RULES) {
      const found = await matches(ctx, rule)
      if (found.length === 0) continue
      ctx.log.info(`removing ${rule.what} (${found.length})`)
      await ctx.exec.run(['rm', '-rf', '--one-file-system', '--', ...found], {
        privileged: true,
        quiet: true
      })
    }
    // Empty, not absent: systemd treats an empty machine-id as "first boot" and writes a fresh one.
    await writeImageFile(ctx, 'etc/machine-id', '', 0o444)

    const problems = await sealLint(ctx)
    if (problems.length > 0) throw new Error(`the image is not sealed:\n${problems.join('\n')}`)
    ctx.log.info('lint: sealed (no host keys, keyring, caches, logs or machine id)')
    if (ctx.config.configure.enabled) {
      const configProblems = await configLint(ctx)
      if (configProblems.length > 0)
        throw new Error(`the image is not a bootable cloud image:\n${configProblems.join('\n')}`)
      ctx.log.info(
        'lint: sshd and cloud-init enabled, initramfs without autodetect, fstab by UUID, GRUB for each boot mode'
      )
    }

    ctx.installed = readInstalledPackages(rootDir)
    const manifestPath = path.join(ctx.config.image.outputDir, `${ctx.imageName}.manifest`)
    ctx.outputs.push(ctx.teardown.push({ kind: 'path', path: manifestPath }))
    writeFileSync(manifestPath, manifestText(ctx.installed))

    await ctx.exec.run(['sync', '-f', rootDir], { privileged: true })
    const trim = await ctx.exec.run(['fstrim', '--verbose', rootDir], {
      privileged: true,
      allowFailure: true
    })
    if (trim.code !== 0)
      ctx.log.warning(`fstrim failed; the image will be larger than it needs to be: ${trim.stderr.trim()}`)
  }
}
