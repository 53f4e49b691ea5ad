import type { VerifiedTarball } from '../bootstrap-env/tarball.js'
import type { PackageCacheDir } from '../cache/cache-dir.js'
import type { Config } from '../config/config.js'
import type { GlanceConnection } from '../openstack/glance.js'
import type { PackageDiff } from '../manifest/diff.js'
import type { BootTestReport } from '../stages/boot-test.js'
import type { CacheState } from '../stages/cache.js'
import type { Exec } from './exec.js'
import type { Log } from './log.js'
import type { StageRecord } from './runner.js'
import type { Teardown } from './teardown.js'

export interface Disk {
  rawPath: string
  device: string
  biosBoot: string
  esp: string
  root: string
  rootUuid: string
  espUuid: string
}

export interface InstalledPackage {
  name: string
  version: string
}

export interface ImageFacts {
  path: string
  format: string
  size: number
  virtualSize: number
  sha256: string
  sha512: string
  sha256sumsPath: string
  manifestPath: string
}

export interface GlanceImageFacts {
  id: string
  name: string
  url: string
  osHashAlgo: string
  osHashValue: string
  /** An identical active image existed: nothing was uploaded. */
  reused: boolean
  /** Names of the images rotation deleted (or would delete, in a dry run). */
  rotated?: string[]
}

/** Who should own what the run leaves behind (the invoking user when we run through sudo). */
export interface Owner {
  uid: number
  gid: number
}

export interface Context {
  config: Config
  exec: Exec
  teardown: Teardown
  log: Log
  /** A private temporary directory for this run (on the teardown stack). */
  workDir: string
  /** The image's name: the input, or decided by the resolve stage. */
  imageName: string
  owner?: Owner
  cancelled: boolean
  records: StageRecord[]
  /** pacman `Server =` lines actually used (mirror, or the resolved snapshot). */
  servers: string[]
  snapshotDate?: string
  /** Arch's bootstrap tarball, verified (a root-owned copy in workDir), when pacstrap runs inside it. */
  bootstrapTarball?: VerifiedTarball
  disk?: Disk
  /** Where the image's root filesystem is mounted while we work on it. */
  rootDir?: string
  /** Teardown handles of what must be released before conversion. */
  held: { rootMount?: number; loop?: number; rawFile?: number; gpgAgent?: number }
  /** Teardown handles of the files the run hands to the user, forgotten on success. */
  outputs: number[]
  installed?: InstalledPackage[]
  image?: ImageFacts
  cache?: { key: string; hit: string; state: CacheState }
  /** The package cache directory, once created or found (decided once a run). */
  packageCache?: PackageCacheDir
  /** Mirror the package cache state for the post step (GITHUB_STATE in Actions). */
  saveCacheState(state: CacheState): void
  release?: { url: string; assets: { name: string; url: string; size: number }[] }
  /** What the boot-test stage saw (absent when it did not run). */
  bootTest?: BootTestReport
  /** Keystone session and Glance client (the openstack stage), closed when the run ends. */
  openstack?: GlanceConnection
  glanceImage?: GlanceImageFacts
  /** Packages changed since the previous manifest (`against` names it). */
  packageDiff?: { against: string; diff: PackageDiff }
  /** The pull request comment posted or updated (`comment: true`). */
  comment?: { url: string; updated: boolean }
  /** What `mode: cleanup` deleted, in order. */
  deleted?: DeletedItem[]
}

export interface DeletedItem {
  kind: 'release' | 'draft' | 'tag' | 'image'
  name: string
  /** The release's or the image's id; for a tag, its ref (refs/tags/<name>). */
  id: string
}
