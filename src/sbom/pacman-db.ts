// The image's pacman local database (`var/lib/pacman/local/<name>-<version>/desc`) read as records
// for the SBOM. Read directly from the mounted tree, never through a link: the tree comes from
// packages, and a link must not pull a host file into a document that gets published.
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import path from 'node:path'

/** One installed package, as its `desc` file tells it (the install date is left out: it varies). */
export interface PackageRecord {
  name: string
  version: string
  /** The package base (pkgbase): the source package it was built from. */
  base?: string
  description?: string
  url?: string
  arch: string
  /** Build date, Unix seconds. */
  buildDate?: number
  packager?: string
  /** Installed size in bytes. */
  installedSize?: number
  /** `%LICENSE%` lines as the package declares them. */
  licenses: string[]
  /** `%DEPENDS%` lines, with their version constraints. */
  depends: string[]
  /** `%PROVIDES%` lines, with their versions. */
  provides: string[]
}

/** The `%KEY%` sections of a desc file, each with its lines. */
export function parseDesc(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of text.split('\n')) {
    const key = /^%([A-Z0-9]+)%$/.exec(line)
    if (key) {
      current = []
      sections.set(key[1] as string, current)
    } else if (line === '') {
      current = undefined
    } else if (current) {
      current.push(line)
    }
  }
  return sections
}

function whole(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

/** A record from one desc file's text; `where` names it in errors. */
export function packageRecord(text: string, where: string): PackageRecord {
  const sections = parseDesc(text)
  const one = (key: string): string | undefined => sections.get(key)?.[0]
  const name = one('NAME')
  const version = one('VERSION')
  if (!name || !version) throw new Error(`${where}: no %NAME% or %VERSION%; the pacman database is damaged`)
  const record: PackageRecord = {
    name,
    version,
    arch: one('ARCH') ?? 'any',
    licenses: sections.get('LICENSE') ?? [],
    depends: sections.get('DEPENDS') ?? [],
    provides: sections.get('PROVIDES') ?? []
  }
  const optional = {
    base: one('BASE'),
    description: one('DESC'),
    url: one('URL'),
    buildDate: whole(one('BUILDDATE')),
    packager: one('PACKAGER'),
    installedSize: whole(one('SIZE'))
  }
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined && value !== '') Object.assign(record, { [key]: value })
  }
  return record
}

function byName(a: PackageRecord, b: PackageRecord): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** Every package of the image's local database, sorted by name. */
export function readPackageRecords(rootDir: string): PackageRecord[] {
  const local = path.join(rootDir, 'var/lib/pacman/local')
  const realRoot = realpathSync(rootDir)
  const realLocal = realpathSync(local)
  if (!realLocal.startsWith(`${realRoot}/`)) {
    throw new Error(`/var/lib/pacman/local leads outside the image (to ${realLocal}); refusing to read it`)
  }
  const records: PackageRecord[] = []
  for (const entry of readdirSync(realLocal, { withFileTypes: true })) {
    // ALPM_DB_VERSION and the like are files; a link in place of a package directory is skipped.
    if (!entry.isDirectory()) continue
    const desc = path.join(realLocal, entry.name, 'desc')
    const where = `/var/lib/pacman/local/${entry.name}/desc`
    if (!lstatSync(desc).isFile()) throw new Error(`${where} is not a regular file; refusing to read it`)
    records.push(packageRecord(readFileSync(desc, 'utf8'), where))
  }
  return records.sort(byName)
}
