// The seal stage on a fake image root with the real find and rm through the exec seam: what the seal
// list names is removed inside the root, and a sealed directory that is (or lies under) a link out
// of the image fails the build before anything is removed, leaving the host's files alone.
import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Context } from '../../src/pipeline/context.js'
import { ProcessExec } from '../../src/pipeline/exec.js'
import { Teardown } from '../../src/pipeline/teardown.js'
import { sealStage } from '../../src/stages/seal.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'
import { config as configOf } from '../../test/support/config.js'

function put(file: string, content = 'x'): void {
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, content)
}

/** An image root with something of every kind the seal removes, and a host canary next to it. */
function fakeImage(): { ctx: Context; root: string; canary: string; log: MemoryLog } {
  const dir = tempDir()
  const root = path.join(dir, 'root')
  for (const file of [
    'etc/ssh/ssh_host_ed25519_key',
    'var/log/pacman.log',
    'var/cache/pacman/pkg/base-1-1-any.pkg.tar.zst',
    'var/lib/pacman/sync/core.db',
    'root/.bash_history',
    'var/cache/ldconfig/aux-cache'
  ])
    put(path.join(root, file))
  put(path.join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n')
  put(path.join(root, 'var/lib/pacman/local/base-1-1/desc'), '%NAME%\nbase\n\n%VERSION%\n1-1\n')
  const canary = path.join(dir, 'host-canary')
  for (const file of ['pacman/pkg/precious.pkg.tar.zst', 'precious.log']) put(path.join(canary, file))
  const outputDir = path.join(dir, 'out')
  mkdirSync(outputDir)
  mkdirSync(path.join(dir, 'work'))
  const log = new MemoryLog()
  const config = configOf({ configure: 'false', 'output-dir': outputDir }, { cwd: dir })
  const ctx: Context = {
    config,
    exec: new ProcessExec(log),
    teardown: new Teardown(new ProcessExec(log), log),
    log,
    workDir: path.join(dir, 'work'),
    imageName: 'sealed',
    cancelled: false,
    records: [],
    servers: [],
    held: {},
    outputs: [],
    rootDir: root,
    saveCacheState: () => {}
  }
  return { ctx, root, canary, log }
}

describe('seal', () => {
  it('removes what the seal list names inside the image and empties machine-id', async () => {
    const { ctx, root } = fakeImage()
    await sealStage.run(ctx)
    expect(readdirSync(path.join(root, 'var/log'))).toEqual([])
    expect(readdirSync(path.join(root, 'var/cache/pacman/pkg'))).toEqual([])
    expect(existsSync(path.join(root, 'etc/ssh/ssh_host_ed25519_key'))).toBe(false)
    expect(existsSync(path.join(root, 'root/.bash_history'))).toBe(false)
    expect(readdirSync(path.join(root, 'var/cache/ldconfig'))).toEqual([])
    expect(readFileSync(path.join(root, 'etc/machine-id'), 'utf8')).toBe('')
    expect(readFileSync(path.join(ctx.config.image.outputDir, 'sealed.manifest'), 'utf8')).toBe('base 1-1\n')
    await ctx.teardown.releaseAll()
  }, 60_000)

  it('refuses a sealed directory under a link to the host (var/cache -> host dir), removing nothing', async () => {
    const { ctx, root, canary } = fakeImage()
    rmSync(path.join(root, 'var/cache'), { recursive: true })
    symlinkSync(canary, path.join(root, 'var/cache'))
    await expect(sealStage.run(ctx)).rejects.toThrow(
      new RegExp(
        `^cannot seal package cache in /var/cache/pacman/pkg: var/cache/pacman/pkg: ${root}/var/cache/pacman leads outside the image; ` +
          'the image must have a real directory there \\(did a hook script or package replace it with a link\\?\\)$'
      )
    )
    expect(readdirSync(path.join(canary, 'pacman/pkg'))).toEqual(['precious.pkg.tar.zst'])
    // checked before anything was removed
    expect(existsSync(path.join(root, 'var/log/pacman.log'))).toBe(true)
  })

  it('refuses a sealed directory that is itself a link (var/log -> host dir)', async () => {
    const { ctx, root, canary } = fakeImage()
    rmSync(path.join(root, 'var/log'), { recursive: true })
    symlinkSync(canary, path.join(root, 'var/log'))
    await expect(sealStage.run(ctx)).rejects.toThrow(
      /^cannot seal log files in \/var\/log: var\/log is a symbolic link in the image; refusing to write through it; the image must have a real directory there/
    )
    expect(readdirSync(canary).sort()).toEqual(['pacman', 'precious.log'])
  })
})
