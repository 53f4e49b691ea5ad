// Which stages run, in order, for each mode; the engine (pipeline/build.ts) runs what it is given.
import type { Config } from '../config/config.js'
import { startBuild, type BuildOptions, type BuildRun } from '../pipeline/build.js'
import type { Stage } from '../pipeline/runner.js'
import { attestStage } from './attest.js'
import { bootloaderStage } from './bootloader.js'
import { bootstrapStage } from './bootstrap.js'
import { bootstrapTarballStage } from './bootstrap-tarball.js'
import { bootTestStage } from './boot-test.js'
import { cacheRestoreStage } from './cache.js'
import { cleanupGlanceStage } from './cleanup-glance.js'
import { cleanupReleasesStage } from './cleanup-releases.js'
import { cloudInitStage } from './cloudinit.js'
import { commentStage } from './comment.js'
import { compareStage } from './compare.js'
import { convertStage, detachStage } from './convert.js'
import { diskStage } from './disk.js'
import { fstabStage } from './fstab.js'
import { inspectStage, openstackStage, publishStage } from './glance.js'
import { handoverStage } from './handover.js'
import { hookStage } from './hooks.js'
import { hostStage } from './host.js'
import { initramfsStage } from './initramfs.js'
import { networkStage } from './network.js'
import { overlayStage } from './overlay.js'
import { packageDiffStage } from './package-diff.js'
import { refillStage } from './refill.js'
import { releaseStage } from './release.js'
import { resolveStage } from './resolve.js'
import { sbomStage, sbomWriteStage } from './sbom.js'
import { sealStage } from './seal.js'
import { servicesStage } from './services.js'
import { sshStage } from './ssh.js'
import { systemStage } from './system.js'

/** `mode: build`: an image from nothing, tested, published. */
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
  sbomStage,
  sealStage,
  refillStage,
  detachStage,
  convertStage,
  sbomWriteStage,
  handoverStage,
  compareStage,
  bootTestStage,
  attestStage,
  packageDiffStage,
  publishStage,
  releaseStage,
  commentStage
]

/** `mode: publish`: an existing image file into Glance. */
export const PUBLISH_STAGES: Stage[] = [openstackStage, inspectStage, attestStage, publishStage, commentStage]

/** `mode: cleanup`: a closed pull request's previews deleted, one step per place; no disk is touched. */
export const CLEANUP_STAGES: Stage[] = [openstackStage, cleanupGlanceStage, cleanupReleasesStage]

export const STAGE_LISTS = { build: BUILD_STAGES, publish: PUBLISH_STAGES, cleanup: CLEANUP_STAGES } as const

export function stagesFor(config: Config): Stage[] {
  return STAGE_LISTS[config.mode]
}

/** Start the run a config asks for: its mode's stages through the engine. */
export function startRun(options: Omit<BuildOptions, 'stages'>): BuildRun {
  return startBuild({ ...options, stages: stagesFor(options.config) })
}
