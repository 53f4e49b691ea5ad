// The image: its name and family, file format and compression, where its files go, and for
// `mode: publish` the existing file to publish.
import path from 'node:path'
import {
  digestFromSumsFile,
  isUrl,
  SUMS_INPUT,
  sumsUrlProblem,
  type Sha256SumsSource
} from '../expected-digest.js'
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
  /**
   * `expect-sha256`, or the digest `expect-sha256sums` lists for the image when it could be read at
   * config time (a file, and the image's name known): the digest the image file must have, lowercase.
   */
  expectSha256?: string
  /** `expect-sha256sums`: a URL is read by the compare stage, as is a file when the name is decided later. */
  expectSha256Sums?: Sha256SumsSource
  /** `expect-image`: the reference image diffoscope compares the build with when the digests differ. */
  expectImage?: string
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
  let expectSha256 = expected || undefined
  const sums = expectedSums(input, name, format)
  if (sums && expected)
    problems.push(`expect-sha256 and ${SUMS_INPUT} are both set; give the expected digest one way only`)
  if (sums?.problem) problems.push(sums.problem)
  expectSha256 ??= sums?.digest
  const expectImage = referenceImage(input, expectSha256 !== undefined || sums !== undefined)
  return {
    name,
    family,
    format,
    compression,
    outputDir,
    sbom,
    architecture: 'x86_64',
    sourceDateEpoch,
    expectSha256,
    ...(sums?.source ? { expectSha256Sums: sums.source } : {}),
    ...(expectImage ? { expectImage } : {})
  }
}

/**
 * `expect-sha256sums`: a file is read now when the image's name is known (a missing line is an input
 * error, before any disk); a URL only checked here and fetched by the compare stage.
 */
function expectedSums(
  input: SectionInput,
  name: string,
  format: ImageFormat
): { source?: Sha256SumsSource; digest?: string; problem?: string } | undefined {
  const text = input.get(SUMS_INPUT)
  if (!text) return undefined
  if (isUrl(text)) {
    const problem = sumsUrlProblem(text)
    return problem ? { problem } : { source: { location: text, kind: 'url' } }
  }
  const file = path.resolve(input.env.cwd, text)
  if (!isFile(file))
    return { problem: `${SUMS_INPUT}: ${quote(text)} is not a file; give a SHA256SUMS file or an https URL` }
  const source: Sha256SumsSource = { location: file, kind: 'file' }
  if (!name) return { source }
  try {
    return { source, digest: digestFromSumsFile(file, `${name}.${format}`) }
  } catch (error) {
    return { problem: (error as Error).message }
  }
}

/** `expect-image`: a file, read only when the digests differ, so it needs an expected digest. */
function referenceImage(input: SectionInput, hasExpected: boolean): string | undefined {
  const text = input.get('expect-image')
  if (!text) return undefined
  const file = path.resolve(input.env.cwd, text)
  if (!isFile(file)) {
    input.problems.push(`expect-image: ${quote(text)} is not a file; give the reference image (qcow2 or raw)`)
    return undefined
  }
  if (!hasExpected) {
    input.problems.push(
      `expect-image: is compared only when the digests differ; set expect-sha256 or ${SUMS_INPUT} too`
    )
  }
  return file
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
