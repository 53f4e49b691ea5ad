// What the SPDX and CycloneDX documents share: their input, derived identities and creation time,
// and the bytes they are written as. Nothing here reads the clock or a random source: the same
// packages and image give the same bytes.
import { createHash } from 'node:crypto'
import packageJson from '../../package.json' with { type: 'json' }
import type { PackageRecord } from './pacman-db.js'

/** The image file the documents describe (the final file the user gets). */
export interface SbomSubject {
  imageName: string
  fileName: string
  sha256: string
  sha512: string
}

export interface SbomInput {
  subject: SbomSubject
  packages: PackageRecord[]
  /** pacman `Server =` lines the packages came from (the mirrors, or the Archive snapshot). */
  servers: string[]
  /** The Archive snapshot date (`YYYY/MM/DD`), when packages came from one. */
  snapshot?: string
  /** ISO 8601 time, seconds precision (see `sbomCreated`). */
  created: string
  toolVersion: string
}

export const TOOL_NAME = 'arch-image'
export const TOOL_VERSION: string = packageJson.version

/** RFC 4122 name-based UUID (version 5, SHA-1) of `name` in the namespace `namespace`. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replaceAll('-', ''), 'hex')
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest()
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** RFC 4122's URL namespace. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8'
/** arch-image's namespace for document ids: the v5 UUID of its name in the URL namespace. */
const SBOM_NAMESPACE = uuidV5(URL_NAMESPACE, 'urn:arch-image:sbom')

/** The document's UUID: from the format, the image name and the image's digest, nothing else. */
export function documentUuid(format: 'spdx' | 'cyclonedx', subject: SbomSubject): string {
  return uuidV5(SBOM_NAMESPACE, `${format}:${subject.imageName}:sha256:${subject.sha256}`)
}

/** Unix seconds as ISO 8601 UTC, without fractions. */
export function isoSeconds(unix: number): string {
  return new Date(unix * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * When the documents say they were made: from the build's inputs, not the wall clock. A
 * SOURCE_DATE_EPOCH when the build has one, else the newest package's build date (no document of
 * these packages can be older), else the snapshot's day, else the Unix epoch.
 */
export function sbomCreated(packages: PackageRecord[], snapshot?: string, sourceDateEpoch?: number): string {
  const newest = Math.max(0, ...packages.map(record => record.buildDate ?? 0))
  let seconds = sourceDateEpoch ?? newest
  if (sourceDateEpoch === undefined && newest === 0 && snapshot) {
    seconds = Date.parse(`${snapshot.replaceAll('/', '-')}T00:00:00Z`) / 1000
  }
  return isoSeconds(seconds)
}

/** A server line without credentials: a mirror URL may carry a token that must not be published. */
export function publicServer(server: string): string {
  try {
    const url = new URL(server)
    if (!url.username && !url.password) return server
    url.username = ''
    url.password = ''
    return decodeURI(url.href)
  } catch {
    return server
  }
}

/** The document's bytes: two-space JSON with a final newline. */
export function sbomText(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`
}

/** A package's dependencies resolved to installed package names (by name, then by provides), sorted. */
export function resolvedDepends(packages: PackageRecord[]): Map<string, string[]> {
  const bare = (entry: string): string => entry.split(/[<>=:]/, 1)[0]?.trim() ?? ''
  const providers = new Map<string, string>()
  for (const record of packages) {
    for (const provided of record.provides) {
      const name = bare(provided)
      if (!providers.has(name)) providers.set(name, record.name)
    }
  }
  for (const record of packages) providers.set(record.name, record.name)
  const resolved = new Map<string, string[]>()
  for (const record of packages) {
    const names = record.depends.map(dep => providers.get(bare(dep))).filter(name => name !== undefined)
    resolved.set(record.name, [...new Set(names)].filter(name => name !== record.name).sort())
  }
  return resolved
}
