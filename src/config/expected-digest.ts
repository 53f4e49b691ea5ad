// Where the digest an image must have comes from: `expect-sha256` itself, or the line for the image's
// file in a SHA256SUMS file or https URL (`expect-sha256sums`), as sha256sum writes and reads it.
import { readFileSync } from 'node:fs'
import { HttpClient } from '../openstack/http.js'
import { isLoopbackHost } from '../openstack/plain-http.js'

export const SUMS_INPUT = 'expect-sha256sums'

export interface Sha256SumsSource {
  /** The path (absolute) or URL as given. */
  location: string
  kind: 'file' | 'url'
}

/** The digest a SHA256SUMS text lists for `fileName` (`<hex>  <name>` or `<hex> *<name>`), lowercase. */
export function digestFromSums(text: string, fileName: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(line)
    if (match && (match[2] === fileName || match[2] === `./${fileName}`)) return match[1]!.toLowerCase()
  }
  return undefined
}

/** Why `location` cannot be read as a SHA256SUMS URL, or undefined: https, or http to this machine only. */
export function sumsUrlProblem(location: string): string | undefined {
  let url: URL
  try {
    url = new URL(location)
  } catch {
    return `${SUMS_INPUT}: ${JSON.stringify(location)} is not a URL`
  }
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined
  return (
    `${SUMS_INPUT}: ${location} is not accepted; use an https URL (plain http only to this machine: ` +
    `the digest decides whether the build is trusted) or a file path`
  )
}

export function isUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
}

const NO_LINE = (where: string, fileName: string): string =>
  `${SUMS_INPUT}: ${where} has no line for ${fileName} (looked for "<sha256>  ${fileName}")`

/** The expected digest of `fileName` from a SHA256SUMS file; throws naming the file and the name. */
export function digestFromSumsFile(file: string, fileName: string): string {
  const digest = digestFromSums(readFileSync(file, 'utf8'), fileName)
  if (!digest) throw new Error(NO_LINE(file, fileName))
  return digest
}

/** The expected digest from wherever `source` points; a URL is fetched now (fails closed on any error). */
export async function expectedDigestFrom(source: Sha256SumsSource, fileName: string): Promise<string> {
  if (source.kind === 'file') return digestFromSumsFile(source.location, fileName)
  const problem = sumsUrlProblem(source.location)
  if (problem) throw new Error(problem)
  const client = new HttpClient()
  try {
    // Release assets answer with a redirect to their storage: followed, each hop checked like the first.
    let url = source.location
    for (let hops = 0; ; hops++) {
      const response = await client.send({ method: 'GET', url, headers: { Accept: 'text/plain' } })
      const next = response.headers.location
      if (REDIRECTS.has(response.status) && typeof next === 'string' && hops < 5) {
        url = new URL(next, url).toString()
        const refused = sumsUrlProblem(url)
        if (refused) throw new Error(`${refused} (redirected from ${source.location})`)
        continue
      }
      if (response.status !== 200) throw new Error(`${SUMS_INPUT}: GET ${url} answered ${response.status}`)
      const digest = digestFromSums(response.text, fileName)
      if (!digest) throw new Error(NO_LINE(source.location, fileName))
      return digest
    }
  } finally {
    client.close()
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
