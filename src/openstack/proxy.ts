// HTTP(S)_PROXY / NO_PROXY for the OpenStack clients. Which proxy a URL takes is proxy-from-env's
// decision (curl's rules: lower case over upper case, NO_PROXY host/suffix/port matching, `*`); the
// tunnelling (CONNECT for https, absolute URIs for http) is https-proxy-agent's and http-proxy-agent's.
// Nothing here treats loopback specially: 127.0.0.1 goes through the proxy unless NO_PROXY names it.
import { HttpProxyAgent } from 'http-proxy-agent'
import { HttpsProxyAgent } from 'https-proxy-agent'
import { getProxyForUrl } from 'proxy-from-env'
import { isLoopbackHost } from './plain-http.js'

export type Env = Record<string, string | undefined>

const PROXY_VARIABLES = ['https_proxy', 'http_proxy', 'all_proxy'] as const

/** The proxy URL for `url` from the process environment, or undefined for a direct connection. */
export function proxyFor(url: URL): URL | undefined {
  const proxy = getProxyForUrl(url.toString())
  if (!proxy) return undefined
  try {
    return new URL(proxy)
  } catch {
    throw new Error(`the proxy variable for ${url.protocol}// URLs is not a URL (it is set, but unparseable)`)
  }
}

/** The passwords (as written and decoded) in the proxy variables: masked before anything is logged. */
export function proxySecrets(env: Env): string[] {
  const secrets = new Set<string>()
  for (const name of PROXY_VARIABLES.flatMap(variable => [variable, variable.toUpperCase()])) {
    const value = env[name]
    if (!value) continue
    let parsed: URL
    try {
      parsed = new URL(value.includes('://') ? value : `http://${value}`)
    } catch {
      continue
    }
    for (const part of [parsed.password, parsed.username]) {
      if (!part) continue
      secrets.add(part)
      try {
        secrets.add(decodeURIComponent(part))
      } catch {
        // not percent-encoded: the raw form is masked
      }
    }
  }
  return [...secrets]
}

/** The proxy's address without its credentials, for messages. */
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`
}

/**
 * Plain http through a proxy that is not on this machine sends tokens across the network in the clear,
 * even when the target itself is a loopback address (which would then be the proxy's own loopback).
 */
export function proxiedPlainHttpProblem(target: URL, proxy: URL, allowed: boolean): string | undefined {
  if (target.protocol !== 'http:' || allowed || isLoopbackHost(proxy.hostname)) return undefined
  return (
    `${target.origin} is plain http and the proxy ${describeProxy(proxy)} (HTTP_PROXY) is another machine: ` +
    `tokens would cross the network unencrypted; use https, put the host in NO_PROXY, or set ` +
    `allow-insecure-http: true if this network is trusted`
  )
}

/**
 * An agent that reaches `target`'s scheme through `proxy`. The target's TLS settings (CA bundle,
 * insecure) go with each request, not here: an https proxy is verified against the system's CAs.
 */
export function proxyAgent(
  target: URL,
  proxy: URL,
  options: { keepAlive: boolean; maxSockets: number }
): HttpProxyAgent<string> | HttpsProxyAgent<string> {
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new Error(
      `unsupported proxy scheme ${proxy.protocol} (${describeProxy(proxy)}): use an http:// or https:// proxy`
    )
  }
  if (target.protocol === 'https:') return new HttpsProxyAgent(proxy, options)
  // A proxy forwarding plain http may close its side after each answer without saying so (tinyproxy
  // does): a reused connection then resets under the next request. One connection per request.
  return new HttpProxyAgent(proxy, { ...options, keepAlive: false })
}
