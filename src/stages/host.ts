// host: make sure the machine has every program the pipeline runs, installing what is missing.
import { existsSync } from 'node:fs'
import { findOvmf } from '../boot/qemu.js'
import { usesBootstrapTarball } from '../bootstrap-env/run.js'
import type { Config } from '../config/config.js'
import type { Context } from '../pipeline/context.js'
import type { Stage } from '../pipeline/runner.js'
import { findCommand } from '../util/commands.js'
import { hostFamily, readHostOsRelease, type HostFamily } from '../util/os-release.js'

interface Tool {
  command: string
  debian: string
  arch: string
  /** For what is not a command on PATH (a firmware file). */
  present?: () => boolean
}

const COMMON_TOOLS: Tool[] = [
  { command: 'losetup', debian: 'mount', arch: 'util-linux' },
  { command: 'sfdisk', debian: 'fdisk', arch: 'util-linux' },
  { command: 'partx', debian: 'util-linux', arch: 'util-linux' },
  { command: 'blkid', debian: 'util-linux', arch: 'util-linux' },
  { command: 'fstrim', debian: 'util-linux', arch: 'util-linux' },
  { command: 'mkfs.vfat', debian: 'dosfstools', arch: 'dosfstools' },
  { command: 'pacstrap', debian: 'arch-install-scripts', arch: 'arch-install-scripts' },
  { command: 'pacman', debian: 'pacman-package-manager', arch: 'pacman' },
  { command: 'pacman-key', debian: 'pacman-package-manager', arch: 'pacman' },
  { command: 'gpg', debian: 'gpg', arch: 'gnupg' },
  { command: 'gpg-agent', debian: 'gpg-agent', arch: 'gnupg' },
  { command: 'gpgconf', debian: 'gpgconf', arch: 'gnupg' },
  { command: 'zstd', debian: 'zstd', arch: 'zstd' },
  { command: 'qemu-img', debian: 'qemu-utils', arch: 'qemu-img' }
]

// pacman-from bootstrap: gpgv checks the tarball's signature; the host's arch-chroot enters it.
const BOOTSTRAP_TARBALL_TOOLS: Tool[] = [
  { command: 'gpgv', debian: 'gpgv', arch: 'gnupg' },
  { command: 'arch-chroot', debian: 'arch-install-scripts', arch: 'arch-install-scripts' }
]

const FILESYSTEM_TOOLS: Record<string, Tool> = {
  ext4: { command: 'mkfs.ext4', debian: 'e2fsprogs', arch: 'e2fsprogs' },
  btrfs: { command: 'mkfs.btrfs', debian: 'btrfs-progs', arch: 'btrfs-progs' }
}

const ESP_TOOLS: Tool[] = [
  { command: 'mmd', debian: 'mtools', arch: 'mtools' },
  { command: 'mcopy', debian: 'mtools', arch: 'mtools' }
]

// The boot test: QEMU, the ssh client and mtools for the seed; OVMF for a UEFI boot.
const BOOT_TEST_TOOLS: Tool[] = [
  { command: 'qemu-system-x86_64', debian: 'qemu-system-x86', arch: 'qemu-system-x86' },
  { command: 'ssh', debian: 'openssh-client', arch: 'openssh' },
  { command: 'ssh-keygen', debian: 'openssh-client', arch: 'openssh' },
  ...ESP_TOOLS
]
const OVMF_TOOL: Tool = {
  command: 'OVMF (UEFI firmware for QEMU)',
  debian: 'ovmf',
  arch: 'edk2-ovmf',
  present: () => findOvmf() !== undefined
}

function isPresent(tool: Tool): boolean {
  return tool.present ? tool.present() : findCommand(tool.command) !== undefined
}

export function requiredTools(
  config: Pick<Config, 'disk' | 'configure' | 'bootTest'> & {
    packages?: Pick<Config['packages'], 'pacmanFrom'>
  },
  osRelease?: string
): Tool[] {
  const tools = [...COMMON_TOOLS]
  if (config.packages && usesBootstrapTarball(config.packages.pacmanFrom, osRelease))
    tools.push(...BOOTSTRAP_TARBALL_TOOLS)
  const fsTool = FILESYSTEM_TOOLS[config.disk.filesystem]
  if (fsTool) tools.push(fsTool)
  if (config.configure.enabled && config.configure.bootMode !== 'bios') tools.push(...ESP_TOOLS)
  // Optional chaining: callers that predate the boot test pass configs without it.
  if (config.configure.enabled && config.bootTest?.enabled) {
    tools.push(...BOOT_TEST_TOOLS)
    if (config.bootTest.firmware.includes('uefi')) tools.push(OVMF_TOOL)
  }
  return [...new Map(tools.map(tool => [tool.command, tool])).values()]
}

async function install(ctx: Context, family: HostFamily, packages: string[]): Promise<void> {
  if (family === 'arch') {
    await ctx.exec.run(['pacman', '-S', '--needed', '--noconfirm', ...packages], { privileged: true })
    return
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  const aptInstall = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
  const first = await ctx.exec.run(aptInstall, { privileged: true, env, allowFailure: true })
  if (first.code === 0) return
  ctx.log.info('apt-get install failed; refreshing the package lists and trying again')
  await ctx.exec.run(['apt-get', 'update'], { privileged: true, env })
  await ctx.exec.run(aptInstall, { privileged: true, env })
}

export const hostStage: Stage = {
  name: 'host',
  async run(ctx) {
    if (process.platform !== 'linux')
      throw new Error(`arch-image runs on Linux only, not ${process.platform}`)
    if (!existsSync('/dev/loop-control')) {
      throw new Error(
        'no loop devices on this host (/dev/loop-control is missing); in a container, run it privileged or with the loop devices passed in'
      )
    }
    const family = hostFamily(readHostOsRelease())
    const missing = requiredTools(ctx.config).filter(tool => !isPresent(tool))
    if (missing.length === 0) {
      ctx.log.info(`all host tools present (${family} host)`)
      return
    }
    const commands = missing.map(tool => tool.command).join(', ')
    if (family === 'other') {
      throw new Error(
        `missing host tools: ${commands}; install them (or run on an Arch, Debian or Ubuntu host)`
      )
    }
    const packages = [...new Set(missing.map(tool => (family === 'arch' ? tool.arch : tool.debian)))]
    ctx.log.info(`installing missing host tools (${commands}): ${packages.join(' ')}`)
    await install(ctx, family, packages)
    const still = missing.filter(tool => !isPresent(tool))
    if (still.length > 0) {
      throw new Error(
        `still missing after installing ${packages.join(' ')}: ${still.map(t => t.command).join(', ')}`
      )
    }
  }
}
