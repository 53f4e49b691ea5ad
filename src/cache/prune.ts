// Pruning the package cache before it is saved: only the files of what the image has installed stay.
//
// pacman names a package file `<name>-<pkgver>-<pkgrel>-<arch>.pkg.tar[.<ext>]` (plus `.sig` for a
// detached signature). A name may contain '-' (lib32-glibc); pkgver, pkgrel and arch never do, so the
// last three '-'-separated fields are version and arch. An epoch stays in the file name as `1:2.3-4`.
// makepkg allows only digits (and one dot) in pkgrel, but pacman installs other pkgrels too (repacked or
// hand-built packages, such as this project's stand-in repository): a pkgrel here starts with a digit.
import { lstatSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { CACHE_MARKER } from './cache-dir.js'

export interface InstalledPackage {
  name: string
  /** `[epoch:]pkgver-pkgrel`, as in the pacman database's %VERSION%. */
  version: string
}

export interface PackageFile {
  name: string
  version: string
  arch: string
  /** `.pkg.tar.zst`, `.pkg.tar.xz`, ..., or `.pkg.tar`. */
  extension: string
  signature: boolean
}

const PACKAGE_FILE =
  /^([a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*)-((?:[0-9]+:)?[^-:/\s]+-[0-9][^-:/\s]*)-([A-Za-z0-9_]+)(\.pkg\.tar(?:\.(?:zst|xz|gz|bz2|lz4|lrz|lzo|lz|Z))?)(\.sig)?$/

/** The package a cache file holds, or undefined for anything else (`.part` downloads, temp dirs, ...). */
export function parsePackageFileName(file: string): PackageFile | undefined {
  const match = PACKAGE_FILE.exec(file)
  if (!match) return undefined
  const [, name, version, arch, extension, signature] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined
  ]
  return { name, version, arch, extension, signature: signature !== undefined }
}

export interface PruneResult {
  /** Package files (and their signatures) kept: they belong to an installed name and version. */
  kept: number
  keptBytes: number
  /** Everything else, removed (files, directories, links). */
  removed: number
  removedBytes: number
  /** Entries that could not be removed or read, with the reason; pruning goes on past them. */
  failed: string[]
}

/**
 * Delete every entry of the cache directory that is not exactly the package file (or its signature) of
 * an installed name and version. Never throws: what cannot be removed is reported in `failed`; a
 * missing directory is an empty cache.
 */
export function prunePackageCache(dir: string, installed: InstalledPackage[]): PruneResult {
  const result: PruneResult = { kept: 0, keptBytes: 0, removed: 0, removedBytes: 0, failed: [] }
  const wanted = new Set(installed.map(p => `${p.name}\0${p.version}`))
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') result.failed.push(`${dir}: ${message(error)}`)
    return result
  }
  for (const entry of entries.sort()) {
    if (entry === CACHE_MARKER) continue
    const file = path.join(dir, entry)
    let stat
    try {
      stat = lstatSync(file)
    } catch (error) {
      result.failed.push(`${file}: ${message(error)}`)
      continue
    }
    const parsed = stat.isFile() ? parsePackageFileName(entry) : undefined
    if (parsed && wanted.has(`${parsed.name}\0${parsed.version}`)) {
      result.kept++
      result.keptBytes += stat.size
      continue
    }
    try {
      rmSync(file, { recursive: true, force: true })
      result.removed++
      result.removedBytes += stat.isFile() ? stat.size : 0
    } catch (error) {
      result.failed.push(`${file}: ${message(error)}`)
    }
  }
  return result
}

/** Package files (not signatures) in the directory: what a restore brought, what a save would keep. */
export function countPackageFiles(dir: string): { files: number; bytes: number } {
  let files = 0
  let bytes = 0
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return { files, bytes }
  }
  for (const entry of entries) {
    const parsed = parsePackageFileName(entry)
    if (!parsed || parsed.signature) continue
    try {
      const stat = lstatSync(path.join(dir, entry))
      if (!stat.isFile()) continue
      files++
      bytes += stat.size
    } catch {
      // vanished meanwhile
    }
  }
  return { files, bytes }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
