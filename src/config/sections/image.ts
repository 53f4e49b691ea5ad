// The image: its name and family, file format and compression, where its files go, and for
// `mode: publish` the existing file to publish.
import path from 'node:path'
import { selfContainedProblem } from '../qcow2-header.js'
import type { SectionInput } from '../reader.js'
import { directoryProblem, isFile, nameProblem, oneOf, parseBool, quote } from '../validate.js'
import { previewTagPrefix, type Preview } from './github.js'

export type ImageFormat = 'qcow2' | 'raw'
export type Compression = 'zlib' | 'zstd' | 'none'

export interface ImageConfig {
  /** Empty: `<image-family>-<date>`, decided once the snapshot is resolved. */
  name: string
  family: string
  format: ImageFormat
  compression: Compression
  /** The image, `SHA256SUMS`, the manifest and the SBOMs go here. */
  outputDir: string
  /** Write the SPDX and CycloneDX SBOMs next to the image. */
  sbom: boolean
  architecture: 'x86_64'
  /** `mode: publish`: the existing image file to publish. */
  path?: string
  /**
   * `source-date-epoch` as given; undefined means the default, decided during the run (the resolved
   * value is `ctx.sourceDateEpoch`, see src/image/reproducible.ts).
   */
  sourceDateEpoch?: number
  /** `expect-sha256`: the digest the image file must have, lowercase. */
  expectSha256?: string
}

// No '+': GitHub renames it in release asset names, and a query string written by hand (curl
// '...?name=a+b') reads it as a space, so Glance lists nothing (measured). No ':' either: Glance reads
// `name=in:...` as an operator.
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const FAMILY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** `mode: publish` without image-name: the file's name without its image extension. */
export function publishedImageName(file: string): string {
  return path.basename(file).replace(/\.(qcow2|raw|img)$/, '')
}

/** `<image-family>-<YYYYMMDD>` of the snapshot date, or of today when packages come from a mirror. */
export function defaultImageName(family: string, snapshotDate: string | undefined, today: Date): string {
  const date = snapshotDate ?? today.toISOString().slice(0, 10).replaceAll('-', '/')
  return `${family}-${date.replaceAll('/', '')}`
}

export function parseImage(input: SectionInput, preview: Preview | undefined): ImageConfig {
  const { get, problems } = input
  const family = get('image-family')
  const familyProblem = nameProblem('image-family', family, FAMILY_NAME, 100)
  if (familyProblem) problems.push(familyProblem)

  const format = oneOf<ImageFormat>(problems, 'format', get('format'), ['qcow2', 'raw'])
  let compression = oneOf<Compression>(problems, 'compression', get('compression'), ['zlib', 'zstd', 'none'])
  if (format === 'raw' && compression === 'zstd') {
    problems.push(`compression: ${quote('zstd')} needs format qcow2; with format raw use none`)
  }
  if (format === 'raw') compression = 'none'

  const name =
    get('image-name') || (preview ? `${previewTagPrefix(family, preview.pr)}-${preview.sha.slice(0, 7)}` : '')
  const nameRefused = name ? nameProblem('image-name', name, IMAGE_NAME, 128) : undefined
  if (nameRefused) problems.push(nameRefused)

  const outputDir = path.resolve(input.env.cwd, get('output-dir'))
  const outputProblem = directoryProblem('output-dir', outputDir)
  if (outputProblem) problems.push(outputProblem)
  const sbom = parseBool(problems, 'sbom', get('sbom'))
  const sourceDateEpoch = parseSourceDateEpoch(problems, get('source-date-epoch'))
  const expected = get('expect-sha256').toLowerCase()
  if (expected && !/^[0-9a-f]{64}$/.test(expected))
    problems.push(
      `expect-sha256: ${quote(expected)} is not accepted; use the 64 hex digits of a SHA-256 (as sha256sum prints it)`
    )
  const expectSha256 = expected || undefined
  return {
    name,
    family,
    format,
    compression,
    outputDir,
    sbom,
    architecture: 'x86_64',
    sourceDateEpoch,
    expectSha256
  }
}

// 9999-12-31T23:59:59Z: ext4's extended times reach 2446, FAT's 2107; a date beyond is a typo.
const LATEST_EPOCH = 253402300799

function parseSourceDateEpoch(problems: string[], text: string): number | undefined {
  if (text === '') return undefined
  const value = Number(text)
  if (!/^\d{1,12}$/.test(text) || value > LATEST_EPOCH) {
    problems.push(
      `source-date-epoch: ${quote(text)} is not accepted; use a Unix time in seconds (e.g. 1733184000), or leave it empty for the snapshot date`
    )
    return undefined
  }
  return value
}

/**
 * `image-path`, read by `mode: publish` only: the file must be a self-contained image, and without
 * image-name its file name names the image.
 */
export function parsePublishedImage(input: SectionInput, mode: string, image: ImageConfig): ImageConfig {
  const { get, problems } = input
  const text = get('image-path')
  if (mode !== 'publish') {
    if (text) problems.push(`image-path: is only read by mode: publish (mode is ${mode}); leave it empty`)
    return image
  }
  const file = path.resolve(input.env.cwd, text)
  let name = image.name
  if (!text) problems.push('image-path: is empty; mode: publish needs the image file to publish')
  else if (!isFile(file)) problems.push(`image-path: ${quote(text)} is not a file`)
  else {
    const outside = selfContainedProblem('image-path', file)
    if (outside) problems.push(outside)
    if (!name) {
      name = publishedImageName(file)
      const refused = nameProblem('image-name', name, IMAGE_NAME, 128)
      if (refused)
        problems.push(`${refused} (the name comes from the file name of image-path; set image-name)`)
    }
  }
  return { ...image, name, path: file }
}
