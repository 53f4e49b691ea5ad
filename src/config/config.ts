// Inputs → one validated Config, grouped by section. Each section has its parser in sections/; all
// of them collect their problems into one list, so every bad input of a run is reported at once.
import type { OpenStackSettings } from '../openstack/config.js'
import { ConfigError, sectionInput, type ConfigEnv, type InputReader } from './reader.js'
import { parseAttest, type AttestConfig } from './sections/attest.js'
import { parseBootTest, type BootTestConfig } from './sections/boot-test.js'
import { parseCache, type CacheConfig } from './sections/cache.js'
import { parseConfigure, type ConfigureConfig } from './sections/configure.js'
import { parseDisk, type DiskConfig } from './sections/disk.js'
import { parseGitHub, previewOf, type GitHubConfig } from './sections/github.js'
import { parseGlance, type GlanceConfig, type GlanceTarget } from './sections/glance.js'
import { parseImage, parsePublishedImage, type ImageConfig } from './sections/image.js'
import { parsePackages, type PackagesConfig } from './sections/packages.js'
import { oneOf } from './validate.js'

// What the rest of the code imports from the config, in one place.
export {
  ConfigError,
  type ConfigEnv,
  type InputName,
  type InputReader,
  type PullRequestEvent
} from './reader.js'
export { ATTEST_PERMISSIONS, type AttestConfig } from './sections/attest.js'
export { KVM_SETTINGS, type BootTestConfig, type Firmware, type KvmSetting } from './sections/boot-test.js'
export type { CacheConfig } from './sections/cache.js'
export {
  DATASOURCES,
  HOOK_POINTS,
  type BootMode,
  type ConfigureConfig,
  type HookPoint,
  type HookScript,
  type Kernel
} from './sections/configure.js'
export { MIN_DISK_BYTES, type DiskConfig, type Filesystem } from './sections/disk.js'
export {
  isPreviewTag,
  previewTagPrefix,
  type GitHubConfig,
  type Preview,
  type PreviousManifest,
  type ReleaseConfig
} from './sections/github.js'
export { targetLabel, type GlanceConfig, type GlanceTarget, type RotateAction } from './sections/glance.js'
export {
  defaultImageName,
  publishedImageName,
  type Compression,
  type ImageConfig,
  type ImageFormat
} from './sections/image.js'
export { PACMAN_FROM, type PackagesConfig, type PacmanFrom, type Snapshot } from './sections/packages.js'
export { parseSize, splitList } from './validate.js'

export type Mode = 'build' | 'cleanup' | 'publish'

export interface Config {
  mode: Mode
  image: ImageConfig
  disk: DiskConfig
  packages: PackagesConfig
  configure: ConfigureConfig
  /** Boot the finished image in QEMU and check it before publishing (the boot-test stage). */
  bootTest: BootTestConfig
  cache: CacheConfig
  /** Sign a build attestation for the image (the attest stage). */
  attest: AttestConfig
  /** Publish to Glance (the `glance` input, and credentials); undefined: not published. */
  glance?: GlanceConfig
  github: GitHubConfig
  warnings: string[]
}

/**
 * The OpenStack settings from the Glance inputs and the environment alone (the post step's fallback
 * when its stored token is refused: the other inputs, and the files they name, may be gone by then).
 */
export function glanceSettingsFromInputs(read: InputReader, env: ConfigEnv): OpenStackSettings | undefined {
  return glanceTargetsFromInputs(read, env)[0]?.settings
}

/** Every target's settings from the Glance inputs alone (see glanceSettingsFromInputs). */
export function glanceTargetsFromInputs(read: InputReader, env: ConfigEnv): GlanceTarget[] {
  const input = sectionInput(read, env)
  const glance = parseGlance(input, { mode: input.get('mode'), preview: false })
  if (input.problems.length > 0) throw new ConfigError(input.problems)
  return glance?.targets ?? []
}

/** Reads every input through `read` (empty string = unset) and returns a validated Config. */
export function buildConfig(read: InputReader, env: ConfigEnv): Config {
  const input = sectionInput(read, env)
  const mode = oneOf<Mode>(input.problems, 'mode', input.get('mode'), ['build', 'publish', 'cleanup'])
  const preview = previewOf(mode, env)
  const disk = parseDisk(input)
  const image = parseImage(input, preview)
  const packages = parsePackages(input)
  const configure = parseConfigure(input)
  const bootTest = parseBootTest(input, configure.bootMode)
  const cache = parseCache(input)
  const github = parseGitHub(input, mode, preview)
  const attest = parseAttest(input, mode)
  const glance = parseGlance(input, { mode, preview: preview !== undefined })
  const published = parsePublishedImage(input, mode, image)
  if (input.problems.length > 0) throw new ConfigError(input.problems)
  return {
    mode,
    image: published,
    disk,
    packages,
    configure,
    bootTest,
    cache,
    attest,
    glance,
    github,
    warnings: input.warnings
  }
}
