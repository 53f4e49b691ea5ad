// Plain http:// to Keystone or Glance carries the password and every token in the clear. It is
// refused unless the traffic never leaves the machine (a loopback address) or the user says so
// (allow-insecure-http: true). A catalog may not downgrade an https Keystone to an http Glance.
import { isIPv4 } from 'node:net'

export const ALLOW_INPUT = 'allow-insecure-http'

/** localhost, 127.0.0.0/8 and ::1: traffic to them stays on this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (host === 'localhost' || host === '::1') return true
  return isIPv4(host) && host.startsWith('127.')
}

function parsed(url: string): URL | undefined {
  try {
    return new URL(url.trim())
  } catch {
    return undefined
  }
}

/**
 * Why `url` (read from `setting`) may not be used, or undefined when it may: https, a loopback
 * http URL, or any http URL when allowed.
 */
export function plainHttpProblem(url: string, setting: string, allowed: boolean): string | undefined {
  const parts = parsed(url)
  if (!parts || parts.protocol !== 'http:' || allowed || isLoopbackHost(parts.hostname)) return undefined
  return (
    `${setting}: ${url} is plain http: credentials and tokens would cross the network unencrypted; ` +
    `use https, or set ${ALLOW_INPUT}: true if this network is trusted`
  )
}

/**
 * The image endpoint Keystone's catalog offers: refused when it is plain http to another machine,
 * or when it downgrades an https Keystone to http (even on loopback), unless allowed.
 */
export function catalogEndpointProblem(
  imageUrl: string,
  authUrl: string,
  allowed: boolean
): string | undefined {
  const image = parsed(imageUrl)
  if (!image || image.protocol !== 'http:' || allowed) return undefined
  if (parsed(authUrl)?.protocol === 'https:') {
    return (
      `the service catalog's image endpoint ${imageUrl} is plain http while Keystone (${authUrl}) is https: ` +
      `the token would cross the network unencrypted; set image-endpoint to an https URL, ` +
      `or ${ALLOW_INPUT}: true if this network is trusted`
    )
  }
  return plainHttpProblem(imageUrl, "the service catalog's image endpoint", false)
}
