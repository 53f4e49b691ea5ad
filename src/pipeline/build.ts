// The build pipeline: the stages in order, a context they share, and one teardown at the end
// whatever happened (success, failure, or a signal).
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Config } from '../config/config.js'
import { cacheRestoreStage, type CacheState } from '../stages/cache.js'
import { bootloaderStage } from '../stages/bootloader.js'
import { bootstrapStage } from '../stages/bootstrap.js'
import { bootstrapTarballStage } from '../stages/bootstrap-tarball.js'
import { bootTestStage } from '../stages/boot-test.js'
import { cloudInitStage } from '../stages/cloudinit.js'
import { commentStage } from '../stages/comment.js'
import { convertStage, detachStage } from '../stages/convert.js'
import { diskStage } from '../stages/disk.js'
import { fstabStage } from '../stages/fstab.js'
import { handoverStage, invokingOwner } from '../stages/handover.js'
import { hookStage } from '../stages/hooks.js'
import { inspectStage, openstackStage, publishStage } from '../stages/glance.js'
import { hostStage } from '../stages/host.js'
import { initramfsStage } from '../stages/initramfs.js'
import { networkStage } from '../stages/network.js'
import { overlayStage } from '../stages/overlay.js'
import { packageDiffStage } from '../stages/package-diff.js'
import { resolveStage } from '../stages/resolve.js'
import { releaseStage } from '../stages/release.js'
import { sealStage } from '../stages/seal.js'
import { servicesStage } from '../stages/services.js'
import { sshStage } from '../stages/ssh.js'
import { systemStage } from '../stages/system.js'
import type { Context } from './context.js'
import { CLEANUP_STAGES } from './cleanup.js'
import { Exec } from './exec.js'
import type { Log } from './log.js'
import { runStages, type Stage } from './runner.js'
import { processStartTime, Teardown, type Resource } from './teardown.js'

export const BUILD_STAGES: Stage[] = [
  hostStage,
  openstackStage,
  resolveStage,
  cacheRestoreStage,
  bootstrapTarballStage,
  diskStage,
  bootstrapStage,
  hookStage('after-bootstrap'),
  fstabStage,
  systemStage,
  networkStage,
  sshStage,
  cloudInitStage,
  overlayStage,
  initramfsStage,
  bootloaderStage,
  servicesStage,
  hookStage('after-configure'),
  hookStage('before-seal'),
  sealStage,
  detachStage,
  convertStage,
  handoverStage,
  bootTestStage,
  packageDiffStage,
  publishStage,
  releaseStage,
  commentStage
]

/** `mode: publish`: an existing image file into Glance. */
export const PUBLISH_STAGES: Stage[] = [openstackStage, inspectStage, publishStage, commentStage]

function stagesFor(config: Config): Stage[] {
  if (config.mode === 'cleanup') return CLEANUP_STAGES
  if (config.mode === 'publish') return PUBLISH_STAGES
  return BUILD_STAGES
}

export interface BuildOptions {
  config: Config
  log: Log
  /** Where the teardown stack is mirrored (GITHUB_STATE in Actions). */
  persist?: (resources: Resource[]) => void
  /** Where the package cache state goes for the post step. */
  persistCache?: (state: CacheState) => void
  tempRoot?: string
  stages?: Stage[]
}

export interface BuildRun {
  ctx: Context
  /** Resolves when the build and its teardown are done; rejects with the first error. */
  done: Promise<void>
  /** Stop: stops running commands and releases everything. */
  cancel(reason: string): Promise<void>
}

export function createContext(options: BuildOptions): Context {
  const { config, log } = options
  const exec = new Exec(log)
  // The teardown runs its commands through its own seam: it must still work after the pipeline's is closed.
  const teardown = new Teardown(new Exec(log), log, options.persist)
  exec.tracker = {
    started: pid => teardown.push({ kind: 'process', pid, startTime: processStartTime(pid) ?? '' }),
    finished: id => teardown.forget(id)
  }
  const workDir = mkdtempSync(path.join(options.tempRoot ?? os.tmpdir(), 'arch-image-'))
  teardown.push({ kind: 'path', path: workDir })
  return {
    config,
    exec,
    teardown,
    log,
    workDir,
    imageName: config.imageName,
    owner: invokingOwner(),
    cancelled: false,
    records: [],
    servers: [],
    held: {},
    outputs: [],
    saveCacheState: state => options.persistCache?.(state)
  }
}

export function startBuild(options: BuildOptions): BuildRun {
  const ctx = createContext(options)
  for (const warning of options.config.warnings) ctx.log.warning(warning)
  const done = (async () => {
    let failure: unknown
    try {
      await runStages(options.stages ?? stagesFor(options.config), ctx)
    } catch (error) {
      failure = error
    }
    const leftovers = await ctx.teardown.releaseAll()
    ctx.openstack?.close()
    if (failure) throw failure
    if (leftovers.length > 0) throw new Error(`teardown failed:\n${leftovers.join('\n')}`)
  })()
  return {
    ctx,
    done,
    async cancel(reason) {
      if (ctx.cancelled) return
      ctx.cancelled = true
      ctx.exec.close()
      ctx.log.warning(`${reason}: stopping and releasing everything`)
      await ctx.teardown.releaseAll()
    }
  }
}
