import type { Config, Firmware } from '../config/config.js'
import type { GlanceConnection } from '../openstack/glance.js'
import type { PackageDiff } from '../manifest/diff.js'
import type { PackageRecord } from '../sbom/pacman-db.js'
import type { Exec } from './exec.js'
import type { Log } from './log.js'
import type { Teardown } from './teardown.js'

/** One stage of a run, as the job summary shows it. */
export interface StageRecord {
  name: string
  seconds: number
  result: 'ok' | 'failed' | 'skipped' | 'not run'
}

export interface Disk {
  /** GPT and filesystem ids, derived from the inputs. */
  ids: ImageIds
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

/** What diffoscope made of the built image and `expect-image` after a mismatch (src/image/diffoscope.ts). */
export interface DiffoscopeReport {
  /** diffoscope is not installed: nothing was compared. */
  missing?: boolean
  /** Why the comparison could not be made (the images could not be attached, diffoscope failed). */
  failed?: string
  textPath?: string
  htmlPath?: string
  /** The first lines of the text report. */
  head?: string
  /** diffoscope found the two root filesystems the same (the difference is elsewhere on the disk). */
  same?: boolean
}

/** The SBOMs of the image: SPDX 2.3 and CycloneDX 1.6 JSON, each with its sha256. */
export interface SbomFiles {
  spdxPath: string
  cyclonedxPath: string
  spdxSha256: string
  cyclonedxSha256: string
}

export interface GlanceImageFacts {
  id: string
  name: string
  url: string
  osHashAlgo: string
  osHashValue: string
  /** An identical active image existed: nothing was uploaded. */
  reused: boolean
  /** Names of the images rotation deleted or hid (or would, in a dry run). */
  rotated?: string[]
  /** Every target's image id, by target label (`<cloud>/<region>`). */
  ids: Record<string, string>
}

/** The ids a disk is made with, derived from the image's inputs (src/image/reproducible.ts). */
export interface ImageIds {
  /** GPT disk GUID. */
  diskGuid: string
  /** GPT partition GUIDs: BIOS boot, ESP, root. */
  partitionGuids: [string, string, string]
  /** The root filesystem's UUID. */
  rootUuid: string
  /** ext4's directory hash seed. */
  hashSeed: string
  /** The ESP's FAT volume id, 8 hex digits. */
  espVolumeId: string
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
  /**
   * SOURCE_DATE_EPOCH of the image: the source-date-epoch input, else the snapshot date at 00:00 UTC
   * (both set by resolve), else the newest installed package's build date (set by bootstrap).
   */
  sourceDateEpoch?: number
  /** Arch's bootstrap tarball, verified (a root-owned copy in workDir), when pacstrap runs inside it. */
  bootstrapTarball?: VerifiedTarball
  disk?: Disk
  /** The ext4 root written again from its tree (the refill stage), for detach to put on the partition. */
  refilledRoot?: string
  /** Where the image's root filesystem is mounted while we work on it. */
  rootDir?: string
  /** Teardown handles of what must be released before conversion. */
  held: { rootMount?: number; loop?: number; rawFile?: number; gpgAgent?: number }
  /** Teardown handles of the files the run hands to the user, forgotten on success. */
  outputs: number[]
  installed?: InstalledPackage[]
  /** The image's packages as its pacman database records them (the sbom stage, before seal). */
  sbomPackages?: PackageRecord[]
  image?: ImageFacts
  /** The SBOM files written next to the image (the sbom-write stage, once the image's digest is known). */
  sbom?: SbomFiles
  /** The image's sha256 against `expect-sha256` (the compare stage); undefined when not compared. */
  reproducible?: boolean
  /** diffoscope's comparison with `expect-image` after a mismatch (src/image/diffoscope.ts). */
  diffoscope?: DiffoscopeReport & { reference: string }
  cache?: { key: string; hit: string; state: CacheState }
  /** The package cache directory, once created or found (decided once a run). */
  packageCache?: PackageCacheDir
  /** Mirror the package cache state for the post step (GITHUB_STATE in Actions). */
  saveCacheState(state: CacheState): void
  release?: { url: string; assets: { name: string; url: string; size: number }[] }
  /** The signed and stored build attestations of the image (`attest: true`). */
  attestation?: AttestationFacts
  /** What the boot-test stage saw (absent when it did not run). */
  bootTest?: BootTestReport
  /** Keystone session and Glance client (the openstack stage), closed when the run ends. */
  openstack?: GlanceConnection
  /** One connection per target (the first is `openstack`), by target label. */
  openstackTargets?: { label: string; connection: GlanceConnection }[]
  glanceImage?: GlanceImageFacts
  /** Packages changed since the previous manifest (`against` names it). */
  packageDiff?: { against: string; diff: PackageDiff }
  /** The pull request comment posted or updated (`comment: true`). */
  comment?: { url: string; updated: boolean }
  /** What `mode: cleanup` deleted, in order. */
  deleted?: DeletedItem[]
}

export interface StoredAttestation {
  /** The id GitHub gave it, and the page that shows it. */
  id: number
  url: string
  /** The Sigstore bundle, written next to the image. */
  bundlePath: string
}

export interface AttestationFacts {
  /** `sha256:<hex>` of the image: the attestations' subject. */
  subjectDigest: string
  provenance: StoredAttestation
  /** The SPDX SBOM attested for the same subject, when there is one. */
  sbom?: StoredAttestation
}

/** Arch's bootstrap tarball after its checksum and signature were verified. */
export interface VerifiedTarball {
  /** The verified copy in the run's root-owned verification directory: the file to extract. */
  path: string
  /** The release (`YYYY.MM.DD`; a `0.0.0-<hash>` key when the checksums file names none). */
  version: string
  sha256: string
  fromCache: boolean
  /** The tool cache entry it was read from, or put into. */
  cacheDir: string
  signature: { fingerprint: string; signedAt: number; keyExpiredAt?: number; keyring: string }
}

export interface PackageCacheDir {
  dir: string
  /** Created by arch-image (the marker is there): it may chown -R and prune it. */
  ours: boolean
}

/** The package cache of a run, mirrored for the post step that saves it. */
export interface CacheState {
  dir: string
  /** arch-image created the directory: the post step may chown -R and prune it. */
  ours?: boolean
  key: string
  matchedKey?: string
  /** Set once bootstrap has installed the packages: only then is there anything worth saving. */
  installed?: InstalledPackage[]
}

export type Accel = 'kvm' | 'tcg'

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
}

export interface BootReport {
  firmware: Firmware
  accel: Accel
  /** Power-on to the first SSH login; undefined when there was none. */
  seconds?: number
  checks: CheckResult[]
  /** The serial console, kept next to the image when the boot failed. */
  consoleLog?: string
  consoleTail: string
}

export interface BootTestReport {
  result: 'passed' | 'failed'
  boots: BootReport[]
  /** Checks across boots (host keys and machine-id differ). */
  across: CheckResult[]
}

export interface DeletedItem {
  kind: 'release' | 'draft' | 'tag' | 'image'
  name: string
  /** The release's or the image's id; for a tag, its ref (refs/tags/<name>). */
  id: string
  /** An image's Glance target (`<cloud>/<region>`), when there are several. */
  target?: string
}
