// The teardown stack: every resource joins it the moment it exists (or just before, when the
// acquiring command could be killed half-way) and is released in reverse order. The stack is
// mirrored through `persist` (GITHUB_STATE in Actions) so the post step can finish the job when the
// main step was killed. Every release is idempotent: it checks what is really there first.
import { readFileSync, unlinkSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { GlanceAccess } from '../openstack/glance.js'
import { revokeStoredTokens, type KeystoneAccess } from '../openstack/keystone.js'
import type { Exec } from './exec.js'
import type { Log } from './log.js'

export type GlanceImageResource = {
  kind: 'glance-image'
  imageId: string
  name: string
  /** The target (`<cloud>/<region>`) it was created in, when there are several. */
  target?: string
  /**
   * Set when the image was there before the run, which only copied it into these stores
   * (copy-image): releasing takes it out of them again instead of deleting it.
   */
  stores?: string[]
  /**
   * What deleting it takes without the credentials: Glance's v2 root, Keystone and TLS, and the run's
   * current token (masked; the state is read by this job's post step only; revoked at the run's end).
   */
  glance?: GlanceAccess
}

export type Resource =
  | { kind: 'path'; path: string }
  | { kind: 'loop'; backingFile: string; device?: string }
  | { kind: 'mount'; target: string }
  | { kind: 'gpg-agent'; homedir: string }
  | { kind: 'process'; pid: number; startTime: string }
  | GlanceImageResource
  /** Every Keystone token the run obtained, revoked on release (no password or secret is stored). */
  | { kind: 'keystone-tokens'; keystone: KeystoneAccess; tokens: string[] }
  /** An output lock file; removed only while it still holds `content` (ours). */
  | { kind: 'lock'; path: string; content: string }

/** Deletes a Glance image: the live connection in main, the stored access (or the inputs) in post. */
export type ImageDeleter = (image: GlanceImageResource) => Promise<void>

interface Entry {
  id: number
  resource: Resource
}

export function describe(resource: Resource): string {
  switch (resource.kind) {
    case 'path':
      return `remove ${resource.path}`
    case 'loop':
      return `detach ${resource.device ?? 'loop device'} (${resource.backingFile})`
    case 'mount':
      return `unmount ${resource.target}`
    case 'gpg-agent':
      return `stop gpg-agent of ${resource.homedir}`
    case 'process':
      return `stop process group ${resource.pid}`
    case 'glance-image': {
      const where = `${resource.name}${resource.target ? ` in ${resource.target}` : ''}`
      return resource.stores
        ? `take Glance image ${resource.imageId} (${where}) out of store(s) ${resource.stores.join(', ')} again`
        : `delete the unfinished Glance image ${resource.imageId} (${where})`
    }
    case 'keystone-tokens':
      return `revoke the run's Keystone token(s) at ${resource.keystone.authUrl}`
    case 'lock':
      return `release the output lock ${resource.path}`
  }
}

export class Teardown {
  private entries: Entry[] = []
  private nextId = 1
  private releasing?: Promise<void>
  /** Set by the stage that connects to Glance. */
  imageDeleter?: ImageDeleter

  constructor(
    private readonly exec: Exec,
    private readonly log: Log,
    private readonly persist: (resources: Resource[]) => void = () => {}
  ) {}

  get resources(): Resource[] {
    return this.entries.map(entry => entry.resource)
  }

  push(resource: Resource): number {
    const id = this.nextId++
    this.entries.push({ id, resource })
    this.save()
    return id
  }

  update(id: number, resource: Resource): void {
    const entry = this.entries.find(candidate => candidate.id === id)
    if (entry) entry.resource = resource
    this.save()
  }

  /** Keep the resource: it is no longer ours to release (a finished image, say). */
  forget(id: number): void {
    this.entries = this.entries.filter(entry => entry.id !== id)
    this.save()
  }

  /** Release one resource now, out of order if need be. */
  async release(id: number): Promise<void> {
    const entry = this.entries.find(candidate => candidate.id === id)
    if (!entry) return
    await releaseResource(entry.resource, this.exec, this.log, this.imageDeleter)
    this.forget(id)
  }

  /** Release everything, newest first. Failures are logged and the rest still released; returns them. */
  async releaseAll(): Promise<string[]> {
    const failures: string[] = []
    this.releasing ??= (async () => {
      while (this.entries.length > 0) {
        const entry = this.entries[this.entries.length - 1] as Entry
        try {
          await releaseResource(entry.resource, this.exec, this.log, this.imageDeleter)
        } catch (error) {
          const message = `could not ${describe(entry.resource)}: ${(error as Error).message}`
          this.log.warning(message)
          failures.push(message)
        }
        this.forget(entry.id)
      }
    })()
    await this.releasing
    this.releasing = undefined
    return failures
  }

  private save(): void {
    this.persist(this.resources)
  }
}

export async function releaseResource(
  resource: Resource,
  exec: Exec,
  log: Log,
  deleteImage?: ImageDeleter
): Promise<void> {
  log.info(describe(resource))
  switch (resource.kind) {
    case 'glance-image':
      if (!deleteImage) throw new Error(`no OpenStack connection to delete Glance image ${resource.imageId}`)
      return deleteImage(resource)
    case 'keystone-tokens':
      return revokeStoredTokens(resource.keystone, resource.tokens, log)
    case 'process':
      return stopProcessGroup(resource.pid, resource.startTime, exec)
    case 'gpg-agent':
      return stopGpgAgent(resource.homedir, exec)
    case 'mount':
      return unmountTree(resource.target, exec, log)
    case 'loop':
      return detachLoop(resource, exec)
    case 'path':
      await exec.run(['rm', '-rf', '--one-file-system', '--', resource.path], { privileged: true })
      return
    case 'lock':
      return releaseLock(resource.path, resource.content, log)
  }
}

function releaseLock(file: string, content: string, log: Log): void {
  let current: string
  try {
    current = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  if (current !== content) {
    log.info(`${file} belongs to another run now; left alone`)
    return
  }
  unlinkSync(file)
}

/** Field 22 of /proc/<pid>/stat: when the process started, to tell a reused pid from ours. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function stopProcessGroup(pid: number, startTime: string, exec: Exec): Promise<void> {
  const now = processStartTime(pid)
  if (now !== undefined && now !== startTime) return // the pid belongs to someone else now
  for (const signal of ['TERM', 'KILL']) {
    if (!groupAlive(pid)) return
    await exec.run(['kill', `-${signal}`, '--', `-${pid}`], {
      privileged: true,
      allowFailure: true,
      quiet: true
    })
    for (let i = 0; i < 50 && groupAlive(pid); i++) await sleep(100)
  }
  if (groupAlive(pid)) throw new Error(`process group ${pid} survived SIGKILL`)
}

async function stopGpgAgent(homedir: string, exec: Exec): Promise<void> {
  const present = await exec.run(['test', '-d', homedir], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  if (present.code !== 0) return
  await exec.run(['gpgconf', '--homedir', homedir, '--kill', 'gpg-agent'], {
    privileged: true,
    allowFailure: true
  })
}

function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** Mount points at or below `target`, deepest last, as the kernel lists them. */
export function mountsBelow(target: string): string[] {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
  return mountinfo
    .split('\n')
    .map(line => line.split(' ')[4])
    .filter((mountPoint): mountPoint is string => mountPoint !== undefined)
    .map(unescapeMountPath)
    .filter(mountPoint => mountPoint === target || mountPoint.startsWith(`${target}/`))
}

/** Kill processes whose root, working directory or open files lie under `target` (a chroot, a scriptlet). */
async function killUsers(target: string, exec: Exec, log: Log): Promise<void> {
  const found = await exec.run(
    [
      'find',
      '/proc',
      '-mindepth',
      '2',
      '-maxdepth',
      '3',
      '(',
      '-path',
      '/proc/[0-9]*/root',
      '-o',
      '-path',
      '/proc/[0-9]*/cwd',
      '-o',
      '-path',
      '/proc/[0-9]*/fd/*',
      ')',
      '(',
      '-lname',
      target,
      '-o',
      '-lname',
      `${target}/*`,
      ')',
      '-print'
    ],
    { privileged: true, allowFailure: true, quiet: true }
  )
  const pids = new Set(
    found.stdout
      .split('\n')
      .map(line => Number(line.split('/')[2]))
      .filter(pid => Number.isInteger(pid) && pid > 1 && pid !== process.pid)
  )
  if (pids.size === 0) return
  log.info(`stopping processes still using ${target}: ${[...pids].join(' ')}`)
  await exec.run(['kill', '-KILL', ...[...pids].map(String)], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  await sleep(200)
}

async function unmountTree(target: string, exec: Exec, log: Log): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const mounts = mountsBelow(target)
    if (mounts.length === 0) return
    await killUsers(target, exec, log)
    let busy = ''
    for (const mountPoint of mounts.reverse()) {
      const result = await exec.run(['umount', mountPoint], { privileged: true, allowFailure: true })
      if (result.code !== 0 && mountsBelow(mountPoint).length > 0) busy = result.stderr.trim()
    }
    if (!busy) continue
    if (attempt >= 5) throw new Error(`${target} stays mounted: ${busy}`)
    await sleep(attempt * 500)
  }
}

function loopBackingFile(device: string): string | undefined {
  try {
    const name = device.replace(/^\/dev\//, '')
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim()
  } catch {
    return undefined
  }
}

async function detachLoop(resource: { backingFile: string; device?: string }, exec: Exec): Promise<void> {
  const devices = new Set<string>()
  if (resource.device) {
    const backing = loopBackingFile(resource.device)
    if (backing === resource.backingFile || backing === `${resource.backingFile} (deleted)`) {
      devices.add(resource.device)
    }
  }
  const listed = await exec.run(['losetup', '--noheadings', '--output', 'NAME,BACK-FILE', '--list'], {
    privileged: true,
    allowFailure: true,
    quiet: true
  })
  for (const line of listed.stdout.split('\n')) {
    const [name, ...rest] = line.trim().split(/\s+/)
    const backing = rest.join(' ')
    if (name && (backing === resource.backingFile || backing === `${resource.backingFile} (deleted)`)) {
      devices.add(name)
    }
  }
  for (const device of devices) {
    for (let attempt = 1; ; attempt++) {
      const result = await exec.run(['losetup', '--detach', device], { privileged: true, allowFailure: true })
      if (result.code === 0 || loopBackingFile(device) === undefined) break
      if (attempt >= 5) throw new Error(`losetup --detach ${device}: ${result.stderr.trim()}`)
      await sleep(attempt * 500)
    }
  }
}
