// The OpenStack client through a real HTTP proxy (Debian's tinyproxy on 127.0.0.1, with a password):
// authentication and the upload go through it (its access log shows the Keystone and Glance
// requests), NO_PROXY sends them past it, and the proxy's password never reaches the log.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { resolveOpenStackSettings } from '../../src/openstack/config.js'
import { connectGlance } from '../../src/openstack/glance.js'
import { publishImage } from '../../src/openstack/publish.js'
import {
  expectNoSecrets,
  freePort,
  memberEnv,
  recordingLog,
  startHarness,
  stopHarness,
  type HarnessEnv,
  type RecordingLog
} from './harness.js'

const TINYPROXY = '/usr/bin/tinyproxy'
const PROXY_USER = 'arch'
const PROXY_PASSWORD = 'pr0xy-s3cret'
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'].flatMap(name => [
  name,
  name.toUpperCase()
])

let h: HarnessEnv
let dir: string
let proxy: ChildProcess | undefined
let proxyPort: number
let accessLog: string
const recorders: RecordingLog[] = []
const secrets: string[] = [PROXY_PASSWORD]
const saved = Object.fromEntries(PROXY_VARIABLES.map(name => [name, process.env[name]]))

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    const up = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (up) return
    if (Date.now() > deadline) throw new Error(`tinyproxy is not listening on 127.0.0.1:${port}`)
    await sleep(100)
  }
}

/** The proxy variables exactly as given (lower and upper case cleared first). */
function proxyEnv(values: Record<string, string>): void {
  for (const name of PROXY_VARIABLES) delete process.env[name]
  Object.assign(process.env, values)
}

/** The requests tinyproxy forwarded since `from` (its Info-level "Request" lines). */
function proxiedRequests(from: number): string[] {
  const text = existsSync(accessLog) ? readFileSync(accessLog, 'utf8').slice(from) : ''
  return [...text.matchAll(/Request \(file descriptor \d+\): (\S+ \S+) HTTP/g)].map(
    match => match[1] as string
  )
}

function logSize(): number {
  return existsSync(accessLog) ? readFileSync(accessLog, 'utf8').length : 0
}

/** Publish a small image with the member's credentials; returns the log and the image id. */
async function publishThrough(name: string): Promise<{ log: RecordingLog; id: string }> {
  const log = recordingLog()
  recorders.push(log)
  const settings = resolveOpenStackSettings(
    { ...memberEnv(h), ...Object.fromEntries(PROXY_VARIABLES.map(v => [v, process.env[v]])) },
    { mask: secret => secrets.push(secret) }
  )
  const { glance, session, close } = await connectGlance(settings, log)
  try {
    const file = path.join(dir, `${name}.raw`)
    writeFileSync(file, Buffer.alloc(3 * 1024 * 1024, name.length))
    const result = await publishImage({ glance, log, file, name, family: 'proxy-test', diskFormat: 'raw' })
    expect(result.image.status).toBe('active')
    secrets.push(...session.issuedTokens())
    await glance.deleteImage(result.image.id)
    await session.revoke()
    return { log, id: result.image.id }
  } finally {
    close()
  }
}

beforeAll(async () => {
  h = await startHarness()
  dir = mkdtempSync(path.join(os.tmpdir(), 'arch-image-proxy-'))
  chmodSync(dir, 0o755)
  proxyPort = await freePort()
  accessLog = path.join(dir, 'access.log')
  const config = path.join(dir, 'tinyproxy.conf')
  writeFileSync(
    config,
    [
      `Port ${proxyPort}`,
      'Listen 127.0.0.1',
      'Timeout 600',
      `LogFile "${accessLog}"`,
      'LogLevel Info',
      'MaxClients 20',
      'Allow 127.0.0.1',
      `BasicAuth ${PROXY_USER} ${PROXY_PASSWORD}`,
      'DisableViaHeader Yes',
      ''
    ].join('\n')
  )
  // -d: in the foreground, so the test owns the process and stops it
  proxy = spawn(TINYPROXY, ['-d', '-c', config], { stdio: 'ignore' })
  await listening(proxyPort, Date.now() + 10_000)
}, 180_000)

afterEach(() =>
  proxyEnv(
    Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)) as Record<string, string>
  )
)

afterAll(async () => {
  if (proxy?.pid && proxy.exitCode === null) {
    const exited = new Promise(resolve => proxy?.once('exit', resolve))
    proxy.kill('SIGTERM')
    await exited
  }
  rmSync(dir, { recursive: true, force: true })
  await stopHarness()
}, 60_000)

describe('the OpenStack client through a real proxy', () => {
  it('sends authentication and the upload through HTTP_PROXY (loopback targets are not exempt)', async () => {
    proxyEnv({ HTTP_PROXY: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxyPort}` })
    const from = logSize()
    const { log, id } = await publishThrough('proxy-via')
    const keystone = new URL(h.authUrl)
    const requests = proxiedRequests(from)
    expect(requests).toContain(`POST http://${keystone.host}/v3/auth/tokens`)
    expect(requests).toContain(`POST ${h.glanceUrl}/v2/images`)
    expect(requests).toContain(`PUT ${h.glanceUrl}/v2/images/${id}/file`)
    expect(requests).toContain(`DELETE http://${keystone.host}/v3/auth/tokens`)
    expect(log.lines[0]).toMatch(
      new RegExp(
        `^Keystone: authenticated as member .*, through the proxy http://127\\.0\\.0\\.1:${proxyPort}$`
      )
    )
  })

  it('reads the lower-case variable first, and fails clearly on a wrong proxy password', async () => {
    proxyEnv({
      http_proxy: `http://${PROXY_USER}:wrong-password@127.0.0.1:${proxyPort}`,
      HTTP_PROXY: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxyPort}`
    })
    const settings = resolveOpenStackSettings(
      { ...memberEnv(h), http_proxy: process.env.http_proxy },
      { mask: secret => secrets.push(secret) }
    )
    const error = (await connectGlance(settings, recordingLog()).catch((caught: unknown) => caught)) as Error
    // tinyproxy answers a wrong proxy password with 401 (not 407); its own words say who refused
    expect(error.message).toMatch(
      /^Keystone refused the credentials .*: The administrator of this proxy has not configured it to service requests from you\. Generated by tinyproxy/
    )

    expect(error.message).not.toContain('wrong-password')
    recorders.push({ lines: [error.message] } as RecordingLog)
  })

  it('goes past the proxy for hosts in NO_PROXY: the proxy sees nothing', async () => {
    proxyEnv({
      HTTP_PROXY: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxyPort}`,
      NO_PROXY: 'localhost,127.0.0.1'
    })
    const from = logSize()
    const { log } = await publishThrough('proxy-past')
    expect(proxiedRequests(from)).toEqual([])
    expect(log.lines[0]).not.toMatch(/through the proxy/)
  })

  it('never wrote the proxy password or a token into the log', () => {
    expectNoSecrets(
      recorders.flatMap(recorder => recorder.lines),
      secrets
    )
    expect(secrets).toContain(PROXY_PASSWORD)
  })
})
