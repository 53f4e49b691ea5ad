// Shared by the OpenStack tests: the harness (real Keystone + Glance) started once per test run in a
// directory under the temp dir, a log that records every line, fixtures, and the openstack CLI.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { resolveOpenStackSettings } from '../../src/openstack/config.js'
import { HttpClient } from '../../src/openstack/http.js'
import { issueToken } from '../../src/openstack/keystone.js'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
export const HARNESS = path.join(here, 'harness.sh')

/** A user of the harness's Keystone with a project of its own. */
export interface HarnessUser {
  username: string
  password: string
  userId: string
  projectName: string
  projectId: string
  userDomainName: string
  projectDomainName: string
}

export interface HarnessEnv {
  dir: string
  authUrl: string
  region: string
  glanceUrl: string
  glanceConfig: string
  keystonePid: number
  glancePid: number
  /** The second region, with a glance-api of its own (own port, database and store). */
  region2: string
  glance2Url: string
  glance2Config: string
  glance2Pid: number
  admin: {
    username: string
    password: string
    projectName: string
    userDomainName: string
    projectDomainName: string
  }
  member: HarnessUser
  appCredential: { id: string; name: string; secret: string }
  otherProjectId: string
  /** A user of its own project (second), for a second clouds.yaml entry. */
  second: HarnessUser
}

const PREFIX = 'arch-image-openstack-'

/** One directory per test run (jest's workers share their parent), or ARCH_IMAGE_OPENSTACK_DIR. */
export function harnessDir(): string {
  return process.env.ARCH_IMAGE_OPENSTACK_DIR ?? path.join(os.tmpdir(), `${PREFIX}${process.ppid}`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Directories of earlier runs whose runner is gone: stop what they left and remove them. */
async function removeStaleDirs(current: string): Promise<void> {
  if (process.env.ARCH_IMAGE_OPENSTACK_DIR) return
  for (const name of readdirSync(os.tmpdir())) {
    const match = new RegExp(`^${PREFIX}(\\d+)$`).exec(name)
    const dir = path.join(os.tmpdir(), name)
    if (!match || dir === current || alive(Number(match[1]))) continue
    await run('bash', [HARNESS, 'stop', '--force', dir]).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

const lease = (): Record<string, string> => ({ ...cleanEnv(), HARNESS_LEASE: String(process.pid) })

export async function startHarness(): Promise<HarnessEnv> {
  const dir = harnessDir()
  await removeStaleDirs(dir)
  try {
    // a first start bootstraps Keystone and two Glance databases: minutes on a loaded machine
    await run('bash', [HARNESS, 'start', dir], { env: lease(), timeout: 300_000 })
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string; message: string }
    throw new Error(
      `harness start failed: ${failure.message}\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`
    )
  }
  // Under jest the services stay up for the next file (a restart costs ~8 s): this lease is never
  // dropped, and test/global-teardown.js stops them whatever the leases say.
  if (process.env.JEST_WORKER_ID && !process.env.ARCH_IMAGE_OPENSTACK_DIR) {
    writeFileSync(path.join(dir, 'leases', 'jest-run'), '')
  }
  return JSON.parse(readFileSync(path.join(dir, 'env.json'), 'utf8')) as HarnessEnv
}

export async function stopHarness(): Promise<void> {
  await run('bash', [HARNESS, 'stop', harnessDir()], { env: lease(), timeout: 60_000 })
}

/** process.env without OS_* (the tests say exactly which variables the client and the CLI see). */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('OS_')) env[key] = value
  }
  return env
}

export function memberEnv(h: HarnessEnv): Record<string, string> {
  return {
    OS_AUTH_URL: h.authUrl,
    OS_USERNAME: h.member.username,
    OS_PASSWORD: h.member.password,
    OS_PROJECT_NAME: h.member.projectName,
    OS_USER_DOMAIN_NAME: h.member.userDomainName,
    OS_PROJECT_DOMAIN_NAME: h.member.projectDomainName,
    OS_REGION_NAME: h.region
  }
}

/** The second project's user as OS_* (its own project: its images are not member's). */
export function secondEnv(h: HarnessEnv, region = h.region): Record<string, string> {
  return {
    OS_AUTH_URL: h.authUrl,
    OS_USERNAME: h.second.username,
    OS_PASSWORD: h.second.password,
    OS_PROJECT_NAME: h.second.projectName,
    OS_USER_DOMAIN_NAME: h.second.userDomainName,
    OS_PROJECT_DOMAIN_NAME: h.second.projectDomainName,
    OS_REGION_NAME: region
  }
}

export function adminEnv(h: HarnessEnv): Record<string, string> {
  return {
    OS_AUTH_URL: h.authUrl,
    OS_USERNAME: h.admin.username,
    OS_PASSWORD: h.admin.password,
    OS_PROJECT_NAME: h.admin.projectName,
    OS_USER_DOMAIN_NAME: h.admin.userDomainName,
    OS_PROJECT_DOMAIN_NAME: h.admin.projectDomainName,
    OS_REGION_NAME: h.region
  }
}

export function appCredentialEnv(h: HarnessEnv): Record<string, string> {
  return {
    OS_AUTH_URL: h.authUrl,
    OS_AUTH_TYPE: 'v3applicationcredential',
    OS_APPLICATION_CREDENTIAL_ID: h.appCredential.id,
    OS_APPLICATION_CREDENTIAL_SECRET: h.appCredential.secret,
    OS_REGION_NAME: h.region
  }
}

/** The openstack CLI by full path (python3 on PATH may be another Python), with exactly `osEnv`. */
export async function openstackCli(args: string[], osEnv: Record<string, string>): Promise<string> {
  const { stdout } = await run('/usr/bin/openstack', args, {
    env: { ...cleanEnv(), ...osEnv },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024
  })
  return stdout
}

export interface RecordingLog {
  lines: string[]
  info(message: string): void
  warning(message: string): void
}

export function recordingLog(): RecordingLog {
  const lines: string[] = []
  return {
    lines,
    info: message => void lines.push(message),
    warning: message => void lines.push(`warning: ${message}`)
  }
}

/** Ask Keystone about `token` as an operator would: with an admin token, revoked again afterwards. */
async function asAdmin(h: HarnessEnv, method: 'GET' | 'DELETE', token: string): Promise<number> {
  const http = new HttpClient()
  try {
    const admin = await issueToken(http, resolveOpenStackSettings(adminEnv(h)))
    const url = `${h.authUrl}/auth/tokens`
    const response = await http.request({
      method,
      url,
      headers: { 'X-Auth-Token': admin.value, 'X-Subject-Token': token },
      accept: [404]
    })
    await http.request({
      method: 'DELETE',
      url,
      headers: { 'X-Auth-Token': admin.value, 'X-Subject-Token': admin.value }
    })
    return response.status
  } finally {
    http.close()
  }
}

/** Whether Keystone still takes a token (GET /v3/auth/tokens: 404 once revoked or expired). */
export async function keystoneAccepts(h: HarnessEnv, token: string): Promise<boolean> {
  return (await asAdmin(h, 'GET', token)) === 200
}

/** Revoke a token the way an operator would (admin: DELETE /v3/auth/tokens). */
export async function revokeToken(h: HarnessEnv, token: string): Promise<void> {
  await asAdmin(h, 'DELETE', token)
}

/** Fail when any secret shows up in any of the texts. */
export function expectNoSecrets(texts: string[], secrets: string[]): void {
  // the runner never shows `::add-mask::` lines: they are how a secret is handed to it
  const shown = texts.map(text =>
    text
      .split('\n')
      .filter(line => !line.startsWith('::add-mask::'))
      .join('\n')
  )
  const leaks = secrets
    .filter(secret => secret.length >= 6)
    .flatMap(secret =>
      shown.filter(text => text.includes(secret)).map(text => `${secret.slice(0, 4)}…: ${text}`)
    )
  if (leaks.length > 0) throw new Error(`secrets in the log:\n${leaks.join('\n')}`)
}

/** A region of a test's own whose image endpoint is `url` (as the admin); returns the endpoint's id. */
export async function addImageRegion(h: HarnessEnv, region: string, url: string): Promise<string> {
  await openstackCli(['region', 'create', region], adminEnv(h))
  const endpoint = JSON.parse(
    await openstackCli(
      ['endpoint', 'create', '-f', 'json', '--region', region, 'image', 'public', url],
      adminEnv(h)
    )
  ) as { id: string }
  return endpoint.id
}

/** Take such a region out of the catalog again. */
export async function removeImageRegion(h: HarnessEnv, region: string, endpointId: string): Promise<void> {
  await openstackCli(['endpoint', 'delete', endpointId], adminEnv(h))
  await openstackCli(['region', 'delete', region], adminEnv(h))
}

/** One clouds.yaml entry (password auth) for a user of the harness, as YAML lines. */
export function cloudsEntry(h: HarnessEnv, name: string, user: HarnessEnv['admin']): string[] {
  return [
    `  ${name}:`,
    '    auth:',
    `      auth_url: ${h.authUrl}`,
    `      username: ${user.username}`,
    `      password: ${JSON.stringify(user.password)}`,
    `      project_name: ${user.projectName}`,
    `      user_domain_name: ${user.userDomainName}`,
    `      project_domain_name: ${user.projectDomainName}`
  ]
}

/** A qcow2 with real data: random bytes converted by qemu-img, then a pattern written by qemu-io. */
export async function makeQcow2(dir: string, name: string, randomMiB = 12): Promise<string> {
  const raw = path.join(dir, `${name}.raw`)
  const qcow2 = path.join(dir, `${name}.qcow2`)
  await run('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', `count=${randomMiB}`, 'status=none'])
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2])
  await run('qemu-img', ['resize', '-f', 'qcow2', qcow2, '64M'])
  await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a ${randomMiB + 4}M 2M`, qcow2])
  rmSync(raw)
  return qcow2
}

export async function sha512Of(file: string): Promise<string> {
  const hash = createHash('sha512')
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) hash.update(chunk)
  return hash.digest('hex')
}

// The boot test's own: a TCP port on 127.0.0.1 that nothing listens on right now.
export { freePort } from '../../src/boot/qemu.js'

/** One more glance-api on the shared state (a test may kill it without disturbing the others). */
export class ExtraGlance {
  private child?: ChildProcess
  readonly url: string

  /**
   * `glance2`: on RegionTwo's database, with a store directory of its own (`storeDir`); `multistore`
   * (with glance2): two file stores, `fast` (the default) and `slow` (`storeDirOf`).
   */
  constructor(
    private readonly h: HarnessEnv,
    readonly port: number,
    private readonly sub: 'glance' | 'glance2' = 'glance',
    private readonly mode: '' | 'multistore' = ''
  ) {
    this.url = `http://127.0.0.1:${port}`
  }

  /** A multistore Glance's directory of store `fast` or `slow`. */
  storeDirOf(store: 'fast' | 'slow'): string {
    return path.join(this.h.dir, this.sub, `stores-${this.port}`, store)
  }

  get storeDir(): string {
    return this.sub === 'glance2'
      ? path.join(this.h.dir, 'glance2', `images-${this.port}`)
      : path.join(this.h.dir, 'glance', 'images')
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(): Promise<void> {
    // harness.sh execs glance-api: the child is the server itself
    const args = [
      HARNESS,
      'glance',
      this.h.dir,
      String(this.port),
      this.sub,
      ...(this.mode ? [this.mode] : [])
    ]
    this.child = spawn('bash', args, {
      stdio: 'ignore',
      env: cleanEnv()
    })
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`extra glance-api exited with ${this.child.exitCode}`)
      try {
        const response = await fetch(`${this.url}/versions`)
        if (response.status === 200 || response.status === 300) return
      } catch {
        // not yet
      }
      await sleep(200)
    }
    throw new Error(`extra glance-api on ${this.url} did not answer within 60 s`)
  }

  /** SIGKILL: Glance dies mid-request, as a crashed server would. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise(resolve => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  }
}
