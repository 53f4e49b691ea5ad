// `pacman-from: bootstrap` on real parts: a bootstrap-style tarball (test/fixtures/make-bootstrap-tarball.sh)
// signed by a fixture release key and the fixture repository served Archive-shaped over HTTP on
// 127.0.0.1, the pipeline's own resolve, bootstrap-tarball (sha256 and gpgv on root-owned copies)
// and disk stages (a real loop device, a real ext4 root), then pacstrap run inside the extracted
// tarball with the host's pacman, pacstrap and pacman-key replaced by failing shims. The built
// action (dist/) builds with the fixture key as `bootstrap-keyring`, and refuses an unsigned
// tarball, one the shipped Arch keys cannot know, and a forged one (published, or in the tool cache)
// before the disk stage.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryLog } from './support/log.js'
import {
  ENV_NEW_PACKAGES_DIR,
  pacstrapInside,
  prepareBootstrapEnvironment
} from '../src/bootstrap-env/environment.js'
import { userKeyring } from '../src/bootstrap-env/keys.js'
import { bootstrapSources, pacstrapWithBootstrapTarball } from '../src/bootstrap-env/run.js'
import { obtainBootstrapTarball, ChecksumMismatchError } from '../src/bootstrap-env/tarball.js'
import { createContext } from '../src/pipeline/build.js'
import type { Context, VerifiedTarball } from '../src/pipeline/context.js'
import { runStages } from '../src/pipeline/runner.js'
import { packageList, pacmanConf } from '../src/stages/bootstrap.js'
import { bootstrapTarballStage } from '../src/stages/bootstrap-tarball.js'
import { diskStage } from '../src/stages/disk.js'
import { resolveStage } from '../src/stages/resolve.js'
import {
  MAIN,
  REPO_ROOT,
  fixtureRepo,
  leaksUnder,
  runAction,
  scratchDir,
  serveDirectory,
  shimDir,
  type ActionRun,
  type FileServer
} from './helpers.js'
import { config, type Inputs } from './support/config.js'

const RELEASE = '2026.11.01'
const SNAPSHOT = '2026/11/20'
const TARBALL = `archlinux-bootstrap-${RELEASE}-x86_64.tar.zst`

/** The bootstrap fixture, built once per script version (locked, stamped) and shared. */
function fixtureBootstrap(): string {
  const script = path.join(REPO_ROOT, 'test/fixtures/make-bootstrap-tarball.sh')
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12)
  const dir = `/tmp/arch-image-fixture-bootstrap-${hash}`
  execFileSync(script, [dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  return dir
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** Processes whose root directory lies under `dir` (a gpg-agent left in the bootstrap, say). */
function processesRootedUnder(dir: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    try {
      const root = readlinkSync(`/proc/${pid}/root`)
      if (root === dir || root.startsWith(`${dir}/`)) found.push(pid)
    } catch {
      // gone, or a kernel thread
    }
  }
  return found
}

let repo: string
let bootstrap: string
let dir: string
let server: FileServer
let shims: string
let savedEnv: Record<string, string | undefined>

// One tool cache for the runs that share it; the tamper tests get fresh ones.
function useToolCache(name: string): string {
  const toolCache = path.join(dir, name)
  process.env.RUNNER_TOOL_CACHE = toolCache
  return toolCache
}

/** pacman-from bootstrap, checked with the fixture release key (the shipped Arch keys cannot know it). */
function configFor(inputs: Inputs) {
  const all: Inputs = {
    'pacman-from': 'bootstrap',
    'bootstrap-keyring': path.join(bootstrap, 'keys/release.gpg'),
    'signature-level': 'Never',
    configure: 'false',
    'base-packages': 'base',
    packages: 'fixture-hello',
    'disk-size': '1G',
    'image-name': 'bootstrap-env',
    'output-dir': path.join(dir, 'out'),
    'package-cache-dir': path.join(dir, 'pkg-cache'),
    ...inputs
  }
  return config(all, { cwd: dir })
}

function isoRequests(): string[] {
  return server.requests.filter(request => request.includes('/iso/'))
}

async function withLog<T>(log: MemoryLog, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (error) {
    ;(error as Error).message += `\n--- log tail ---\n${log.lines.slice(-60).join('\n')}`
    throw error
  }
}

let fixtureFpr: string | undefined

/** The fixture key's fingerprint, as gpg reads it from keys/release.gpg. */
function fixtureFingerprint(): string {
  if (fixtureFpr) return fixtureFpr
  const home = path.join(dir, 'gnupg-show')
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const listing = execFileSync(
    'gpg',
    ['--batch', '--homedir', home, '--with-colons', '--show-keys', path.join(bootstrap, 'keys/release.gpg')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }
  )
  fixtureFpr = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1] as string
  return fixtureFpr
}

/** A copy of the fixture release under `site/<kind>/iso/<release>/`, changed by `change`. */
function publishVariant(kind: string, change: (iso: string) => void): void {
  const iso = path.join(dir, 'site', kind, 'iso', RELEASE)
  mkdirSync(iso, { recursive: true })
  for (const file of readdirSync(path.join(bootstrap, 'iso', RELEASE))) {
    copyFileSync(path.join(bootstrap, 'iso', RELEASE, file), path.join(iso, file))
  }
  change(iso)
}

/** One byte of the tarball flipped; with `sums`, sha256sums.txt rewritten to match (a forgery). */
function tamper(file: string, sums?: string): void {
  const bytes = readFileSync(file)
  bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff
  writeFileSync(file, bytes)
  if (sums) writeFileSync(sums, `${sha256(file)}  ${path.basename(file)}\n`)
}

beforeAll(async () => {
  repo = fixtureRepo()
  bootstrap = fixtureBootstrap()
  dir = scratchDir('arch-image-bootstrap-it-')
  // The Archive's shape: repos/YYYY/MM/DD/$repo/os/$arch and iso/<release>/; a mirror's: $repo/os/$arch and iso/.
  const site = path.join(dir, 'site')
  mkdirSync(path.join(site, 'repos/2026/11'), { recursive: true })
  symlinkSync(repo, path.join(site, 'repos/2026/11/20'))
  symlinkSync(path.join(bootstrap, 'iso'), path.join(site, 'iso'))
  mkdirSync(path.join(site, 'mirror'))
  for (const name of ['core', 'extra']) symlinkSync(path.join(repo, name), path.join(site, 'mirror', name))
  symlinkSync(path.join(bootstrap, 'iso'), path.join(site, 'mirror/iso'))
  // Broken copies of the release: one byte changed (checksums as published), forged (checksums redone,
  // the old .sig), unsigned (no .sig published). Their repos/ is the real one.
  publishVariant('tampered', iso => tamper(path.join(iso, TARBALL)))
  publishVariant('forged', iso => tamper(path.join(iso, TARBALL), path.join(iso, 'sha256sums.txt')))
  publishVariant('unsigned', iso => {
    for (const file of readdirSync(iso).filter(name => name.endsWith('.sig'))) rmSync(path.join(iso, file))
  })
  for (const kind of ['tampered', 'forged', 'unsigned'])
    symlinkSync(path.join(site, 'repos'), path.join(site, kind, 'repos'))
  server = await serveDirectory(site)

  savedEnv = {
    PATH: process.env.PATH,
    RUNNER_TOOL_CACHE: process.env.RUNNER_TOOL_CACHE,
    RUNNER_TEMP: process.env.RUNNER_TEMP
  }
  process.env.RUNNER_TEMP = path.join(dir, 'runner-temp')
  mkdirSync(process.env.RUNNER_TEMP)
  // The host's pacman tools fail loudly if anything calls them: pacstrap must run inside the bootstrap.
  const marker = path.join(dir, 'host-pacman-called')
  const fail = `echo "$0 $*" >>${marker}; echo "host $0 must not run" >&2; exit 97`
  shims = shimDir(dir, { pacman: fail, pacstrap: fail, 'pacman-key': fail, 'pacman-conf': fail })
  process.env.PATH = `${shims}:${process.env.PATH}`
}, 300_000)

afterAll(async () => {
  for (const [name, value] of Object.entries(savedEnv ?? {})) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  await server?.close()
  if (dir) {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    execFileSync('rm', ['-rf', '--one-file-system', dir])
  }
})

describe('pacstrap inside the bootstrap tarball, Archive snapshot', () => {
  let ctx: Context
  const log = new MemoryLog()
  let bootstrapRoot = ''
  let seen: {
    calls: string
    installed: string[]
    scriptlet: string
    cacheFiles: string[]
    newDownloadsLeft: string[]
    mountsUnderBootstrap: string[]
    processes: string[]
    keyringInImage: boolean
    copy: { uid: number; mode: number; dirUid: number; dirMode: number }
  }
  let tarball: VerifiedTarball
  let leaks: ReturnType<typeof leaksUnder>

  beforeAll(async () => {
    useToolCache('tools')
    // armored, as Debian's archlinux-keyring package ships keyrings
    const config = configFor({
      'archive-url': `${server.url}`,
      snapshot: SNAPSHOT,
      'bootstrap-keyring': path.join(bootstrap, 'keys/release-armored.gpg')
    })
    ctx = createContext({ config, log, tempRoot: dir })
    await withLog(log, async () => {
      try {
        await runStages([resolveStage, bootstrapTarballStage, diskStage], ctx)
        tarball = ctx.bootstrapTarball as VerifiedTarball
        const copy = statSync(tarball.path)
        const copyDir = statSync(path.dirname(tarball.path))
        const env = await prepareBootstrapEnvironment(
          ctx,
          tarball.path,
          ctx.servers,
          pacmanConf(config, ctx.servers)
        )
        bootstrapRoot = env.root
        await pacstrapInside(ctx, env, packageList(config))
        const root = ctx.rootDir as string
        seen = {
          calls: readFileSync(path.join(env.root, 'var/log/bootstrap-pacman.calls'), 'utf8'),
          installed: readdirSync(path.join(root, 'var/lib/pacman/local')).sort(),
          scriptlet: readFileSync(path.join(root, 'var/lib/fixture-service/scriptlet-ran'), 'utf8').trim(),
          cacheFiles: readdirSync(config.packages.cacheDir).sort(),
          newDownloadsLeft: readdirSync(path.join(env.root, ENV_NEW_PACKAGES_DIR)),
          mountsUnderBootstrap: leaksUnder(path.join(env.root, 'mnt')).mounts,
          processes: processesRootedUnder(env.root),
          keyringInImage:
            existsSync(path.join(root, 'etc/pacman.d/gnupg/pubring.gpg')) ||
            existsSync(path.join(root, 'etc/pacman.d/gnupg/pubring.kbx')),
          copy: {
            uid: copy.uid,
            mode: copy.mode & 0o7777,
            dirUid: copyDir.uid,
            dirMode: copyDir.mode & 0o7777
          }
        }
      } finally {
        const failures = await ctx.teardown.releaseAll()
        expect(failures).toEqual([])
        leaks = leaksUnder(dir)
      }
    })
  }, 300_000)

  it('downloads the release of the snapshot month with its signature, verifies it and caches all three', () => {
    expect(tarball).toMatchObject({
      version: RELEASE,
      fromCache: false,
      signature: { fingerprint: fixtureFingerprint() }
    })
    expect(tarball.signature.keyring).toContain('keys/release-armored.gpg')
    expect(isoRequests()).toEqual([
      `/iso/${RELEASE}/sha256sums.txt`,
      `/iso/${RELEASE}/${TARBALL}`,
      `/iso/${RELEASE}/${TARBALL}.sig`
    ])
    expect(readdirSync(path.join(dir, 'tools/archlinux-bootstrap/2026.11.1'))).toEqual([
      'x86_64',
      'x86_64.complete'
    ])
    expect(readdirSync(path.join(dir, 'tools/archlinux-bootstrap/2026.11.1/x86_64')).sort()).toEqual([
      'archlinux-bootstrap-x86_64.tar.zst',
      'archlinux-bootstrap-x86_64.tar.zst.sig',
      'sha256sums.txt'
    ])
  })

  it('verified and extracted a root-owned copy in the work dir, not the tool cache file', () => {
    expect(tarball.path.startsWith(`${ctx.workDir}/bootstrap-tarball.`)).toBe(true)
    expect(seen.copy).toEqual({ uid: 0, mode: 0o644, dirUid: 0, dirMode: 0o755 })
    expect(log.lines).toContainEqual(expect.stringMatching(`tar --extract --zstd --file ${tarball.path} `))
  })

  it("entered the tree with the host's arch-chroot (the tarball's own fails if called)", () => {
    expect(log.lines).toContainEqual(`$ arch-chroot ${bootstrapRoot} pacman-key --init  [env: PATH]`)
    expect(log.lines.join('\n')).not.toContain("the bootstrap tarball's own arch-chroot ran")
  })

  it('ran pacstrap with the bootstrap pacman, never the host one', () => {
    expect(seen.calls).toContain('-r /mnt -Sy base fixture-hello --config=/etc/pacman.conf --noconfirm')
    expect(existsSync(path.join(dir, 'host-pacman-called'))).toBe(false)
  })

  it('installed the packages into the mounted image root, scriptlets included, with its own keyring', () => {
    expect(seen.installed.filter(name => name !== 'ALPM_DB_VERSION')).toEqual([
      'base-1.0-1',
      'busybox-1.0-1',
      'filesystem-1.0-1',
      'fixture-hello-1.0-1',
      'fixture-leftovers-1.0-1',
      'fixture-service-1.0-1'
    ])
    expect(seen.scriptlet).toBe('post_install 1.0-1')
    expect(seen.keyringInImage).toBe(true)
  })

  it('moved the downloads into the host package cache', () => {
    expect(seen.cacheFiles.filter(name => name.endsWith('.pkg.tar.zst'))).toHaveLength(6)
    expect(seen.newDownloadsLeft).toEqual([])
  })

  it('unmounted /mnt after pacstrap and left no gpg-agent or other process inside', () => {
    expect(seen.mountsUnderBootstrap).toEqual([])
    expect(seen.processes).toEqual([])
  })

  it('teardown leaves no mount, loop device or work directory', () => {
    expect(leaks).toEqual({ loops: [], mounts: [] })
    expect(existsSync(ctx.workDir)).toBe(false)
    expect(bootstrapRoot.startsWith(ctx.workDir)).toBe(true)
  })

  describe('a second run', () => {
    const log2 = new MemoryLog()
    let ctx2: Context
    let requests: string[]

    beforeAll(async () => {
      server.requests.length = 0
      const config = configFor({ 'archive-url': server.url, snapshot: SNAPSHOT })
      ctx2 = createContext({ config, log: log2, tempRoot: dir })
      await withLog(log2, async () => {
        try {
          await runStages([resolveStage, bootstrapTarballStage, diskStage], ctx2)
          await pacstrapWithBootstrapTarball(
            ctx2,
            ctx2.bootstrapTarball as VerifiedTarball,
            packageList(config),
            pacmanConf(config, ctx2.servers)
          )
          requests = [...server.requests]
          expect(readdirSync(path.join(ctx2.rootDir as string, 'var/lib/pacman/local'))).toContain(
            'fixture-hello-1.0-1'
          )
        } finally {
          expect(await ctx2.teardown.releaseAll()).toEqual([])
        }
      })
    }, 300_000)

    it('takes the tarball from the tool cache (no request for it at all) and checks its signature again', () => {
      expect(ctx2.bootstrapTarball?.fromCache).toBe(true)
      expect(requests.filter(request => request.includes('/iso/'))).toEqual([])
      expect(log2.lines.join('\n')).toMatch(
        new RegExp(
          `bootstrap tarball ${RELEASE} from the tool cache .*: sha256 \\w+, good signature by ${fixtureFingerprint()}`
        )
      )
    })

    it('reads the packages from the host cache (read-only inside): only the databases are fetched', () => {
      expect(requests.filter(request => request.endsWith('.pkg.tar.zst'))).toEqual([])
      expect(requests.filter(request => request.endsWith('.db'))).toHaveLength(2)
    })

    it('leaves nothing behind', () => {
      expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
      expect(existsSync(ctx2.workDir)).toBe(false)
    })
  })
})

describe('a tarball whose sha256 differs from sha256sums.txt', () => {
  it('is refused: clear error naming both hashes, nothing extracted or cached', async () => {
    const toolCache = useToolCache('tools-tampered')
    server.requests.length = 0
    const log = new MemoryLog()
    const config = configFor({ 'archive-url': `${server.url}/tampered`, snapshot: SNAPSHOT })
    const ctx = createContext({ config, log, tempRoot: dir })
    const error = await runStages([resolveStage, bootstrapTarballStage], ctx).then(
      () => undefined,
      (caught: unknown) => caught as Error
    )
    const extracted = existsSync(path.join(ctx.workDir, 'bootstrap'))
    expect(await ctx.teardown.releaseAll()).toEqual([])
    const published = readFileSync(path.join(bootstrap, 'iso', RELEASE, 'sha256sums.txt'), 'utf8')
    const expected = published
      .split('\n')
      .find(line => line.endsWith(TARBALL))
      ?.split(/\s+/)[0] as string
    const actual = sha256(path.join(dir, 'site/tampered/iso', RELEASE, TARBALL))
    expect((error as { cause?: unknown })?.cause).toBeInstanceOf(ChecksumMismatchError)
    expect(error?.message).toContain(TARBALL)
    expect(error?.message).toContain(`sha256 ${actual}`)
    expect(error?.message).toContain(`lists ${expected}`)
    expect(error?.message).toMatch(/discarded before extraction/)
    expect(extracted).toBe(false)
    expect(existsSync(path.join(toolCache, 'archlinux-bootstrap'))).toBe(false)
    expect(readdirSync(process.env.RUNNER_TEMP as string)).toEqual([])
  }, 120_000)
})

describe('from a mirror without a snapshot: iso/latest/', () => {
  it('learns the release from the checksums file, keys the cache by it, and reuses it', async () => {
    useToolCache('tools-latest')
    const log = new MemoryLog()
    const config = configFor({ mirror: `${server.url}/mirror/$repo/os/$arch`, 'archive-url': server.url })
    const ctx = createContext({ config, log, tempRoot: dir })
    try {
      await runStages([resolveStage], ctx)
      const keyring = userKeyring(path.join(bootstrap, 'keys/release.gpg'))
      const options = { log, exec: ctx.exec, keyring, workDir: ctx.workDir }
      server.requests.length = 0
      const today = new Date('2027-03-10T12:00:00Z') // the Archive fallback (2027.03.01) is never reached
      expect(bootstrapSources(ctx, today).map(source => source.url)).toEqual([
        `${server.url}/mirror/iso/latest/archlinux-bootstrap-x86_64.tar.zst`,
        `${server.url}/iso/2027.03.01/archlinux-bootstrap-2027.03.01-x86_64.tar.zst`,
        `${server.url}/iso/2027.02.01/archlinux-bootstrap-2027.02.01-x86_64.tar.zst`
      ])
      const first = await obtainBootstrapTarball(bootstrapSources(ctx, today), options)
      expect(first).toMatchObject({
        version: RELEASE,
        fromCache: false,
        signature: { fingerprint: fixtureFingerprint() }
      })
      expect(isoRequests()).toEqual([
        '/mirror/iso/latest/sha256sums.txt',
        '/mirror/iso/latest/archlinux-bootstrap-x86_64.tar.zst',
        '/mirror/iso/latest/archlinux-bootstrap-x86_64.tar.zst.sig'
      ])
      server.requests.length = 0
      const second = await obtainBootstrapTarball(bootstrapSources(ctx, today), options)
      expect(second).toMatchObject({ version: RELEASE, fromCache: true, cacheDir: first.cacheDir })
      expect(isoRequests()).toEqual(['/mirror/iso/latest/sha256sums.txt'])
    } finally {
      expect(await ctx.teardown.releaseAll()).toEqual([])
    }
  }, 120_000)
})

describe('a pacstrap that fails inside the bootstrap', () => {
  it('fails with pacman’s own message and leaves no mount, loop device or process', async () => {
    useToolCache('tools')
    const log = new MemoryLog()
    const config = configFor({ 'archive-url': server.url, snapshot: SNAPSHOT })
    const ctx = createContext({ config, log, tempRoot: dir })
    let error: Error | undefined
    try {
      await runStages([resolveStage, bootstrapTarballStage, diskStage], ctx)
      await pacstrapWithBootstrapTarball(
        ctx,
        ctx.bootstrapTarball as VerifiedTarball,
        ['base', 'no-such-package'],
        pacmanConf(config, ctx.servers)
      )
    } catch (caught) {
      error = caught as Error
    } finally {
      expect(await ctx.teardown.releaseAll()).toEqual([])
    }
    expect(error?.message).toMatch(/target not found: no-such-package/)
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(processesRootedUnder(ctx.workDir)).toEqual([])
    expect(existsSync(ctx.workDir)).toBe(false)
  }, 120_000)
})

describe('a run cancelled while pacstrap hangs inside the bootstrap', () => {
  it('stops it and releases everything: API mounts, binds, gpg-agent, the extracted tree', async () => {
    useToolCache('tools')
    const log = new MemoryLog()
    const config = configFor({ 'archive-url': server.url, snapshot: SNAPSHOT })
    const ctx = createContext({ config, log, tempRoot: dir })
    const bootstrapRoot = path.join(ctx.workDir, 'bootstrap/root.x86_64')
    const hanging = path.join(bootstrapRoot, 'var/log/bootstrap-pacman.hanging')
    let during: { mounts: string[]; processes: number; kinds: string[] } | undefined
    try {
      await runStages([resolveStage, bootstrapTarballStage, diskStage], ctx)
      // the fixture's pacman hangs after its work when its pacman.conf says so
      const conf = `${pacmanConf(config, ctx.servers)}\n# fixture-bootstrap: hang\n`
      const run = pacstrapWithBootstrapTarball(
        ctx,
        ctx.bootstrapTarball as VerifiedTarball,
        packageList(config),
        conf
      ).then(
        () => undefined,
        (error: unknown) => error as Error
      )
      for (let i = 0; i < 600 && !existsSync(hanging); i++) await sleep(100)
      expect(existsSync(hanging)).toBe(true)
      during = {
        mounts: leaksUnder(bootstrapRoot).mounts.map(mount => path.relative(bootstrapRoot, mount) || '.'),
        processes: processesRootedUnder(bootstrapRoot).length,
        kinds: [...new Set(ctx.teardown.resources.map(resource => resource.kind))].sort()
      }
      // What BuildRun.cancel does (SIGTERM to main); the post step replays the same resources.
      ctx.cancelled = true
      ctx.exec.close()
      expect(await ctx.teardown.releaseAll()).toEqual([])
      const error = await run
      expect(error?.message).toMatch(/pacstrap|arch-chroot|cancelled|killed/)
    } finally {
      await ctx.teardown.releaseAll()
    }
    // It was really stopped mid-way: the environment's and pacstrap's API mounts up, the hung pacman inside.
    expect(during?.mounts).toEqual(
      expect.arrayContaining(['.', 'proc', 'dev', 'mnt', 'mnt/proc', 'mnt/dev', 'var/cache/arch-image/pkg'])
    )
    expect(during?.processes).toBeGreaterThan(0)
    expect(during?.kinds).toEqual(['gpg-agent', 'lock', 'loop', 'mount', 'path', 'process'])
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(processesRootedUnder(ctx.workDir)).toEqual([])
    expect(existsSync(ctx.workDir)).toBe(false)
  }, 180_000)
})

describe('the built action with pacman-from: bootstrap', () => {
  // dist/main run as the runner runs it, with the host's pacman tools failing if called (the shims).
  const toolCache = () => path.join(dir, 'action-tool-cache')
  const actionInputs = (runDir: string, inputs: Record<string, string>) => ({
    'archive-url': server.url,
    snapshot: SNAPSHOT,
    'pacman-from': 'bootstrap',
    'bootstrap-keyring': path.join(bootstrap, 'keys/release.gpg'),
    'signature-level': 'Never',
    configure: 'false',
    'base-packages': 'base',
    'disk-size': '1G',
    cache: 'false',
    'package-cache-dir': path.join(runDir, 'pkg-cache'),
    ...inputs
  })

  async function build(name: string): Promise<ActionRun> {
    const runDir = scratchDir()
    const run = await runAction({
      dir: runDir,
      env: { PATH: process.env.PATH as string, RUNNER_TOOL_CACHE: toolCache() },
      inputs: actionInputs(runDir, { 'image-name': name })
    })
    expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
    execFileSync('rm', ['-rf', runDir])
    return run
  }

  /**
   * A run that must be refused in the bootstrap-tarball stage: its error (the ::error:: line), and
   * proof that nothing was touched (no disk stage, no extraction, nothing attached or mounted).
   */
  async function refused(
    inputs: Record<string, string>,
    runnerToolCache: (runDir: string) => string,
    main?: (runDir: string) => string
  ) {
    const runDir = scratchDir()
    try {
      const run = await runAction({
        dir: runDir,
        env: { PATH: process.env.PATH as string, RUNNER_TOOL_CACHE: runnerToolCache(runDir) },
        inputs: actionInputs(runDir, inputs),
        main: main?.(runDir)
      })
      expect(run.code).toBe(1)
      expect(run.summary).toMatch(/<td>bootstrap-tarball<\/td><td>[\d.]+ s<\/td><td>failed<\/td>/)
      expect(run.summary).toMatch(/<td>disk<\/td><td>-?<\/td><td>not run<\/td>/)
      expect(run.output).not.toMatch(/\$ (sudo -n -- )?(losetup|tar --extract)/)
      expect(leaksUnder(runDir)).toEqual({ loops: [], mounts: [] })
      const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n') ?? ''
      expect(error).toMatch(/^stage "bootstrap-tarball" failed: /)
      return error
    } finally {
      execFileSync('rm', ['-rf', runDir])
    }
  }

  it('installs from inside the verified tarball, never with the host pacman', async () => {
    const before = isoRequests().length
    const run = await build('from-bootstrap')
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(run.output).toContain("pacstrap runs inside Arch's bootstrap tarball (pacman-from: bootstrap)")
    expect(run.output).toContain(`${TARBALL}: good signature by ${fixtureFingerprint()}`)
    expect(run.outputs['package-count']).toBe('5')
    expect(run.outputs.snapshot).toBe(SNAPSHOT)
    expect(isoRequests().slice(before)).toContain(`/iso/${RELEASE}/${TARBALL}.sig`)
    expect(existsSync(path.join(dir, 'host-pacman-called'))).toBe(false)
  }, 300_000)

  it('a second run takes the tarball from the tool cache (no download) and checks its signature again', async () => {
    const before = isoRequests().length
    const run = await build('from-tool-cache')
    expect(run.code).toBe(0)
    expect(isoRequests().slice(before)).toEqual([])
    expect(run.output).toMatch(new RegExp(`from the tool cache .*good signature by ${fixtureFingerprint()}`))
  }, 300_000)

  it('an unsigned tarball (no .sig published) is refused before any disk is touched', async () => {
    const error = await refused({ 'archive-url': `${server.url}/unsigned` }, runDir =>
      path.join(runDir, 'tools')
    )
    expect(error).toContain(
      `${TARBALL}: signature ${server.url}/unsigned/iso/${RELEASE}/${TARBALL}.sig: not published`
    )
  }, 120_000)

  it('a tarball signed by a key the shipped Arch keys do not hold is refused (the default keyring, from dist/)', async () => {
    // Run from a copy of dist/main alone (no src/ beside it): the shipped keyring travels with the bundle.
    const error = await refused(
      { 'bootstrap-keyring': '' },
      runDir => path.join(runDir, 'tools'),
      runDir => {
        cpSync(path.dirname(MAIN), path.join(runDir, 'action/dist/main'), { recursive: true })
        return path.join(runDir, 'action/dist/main/index.js')
      }
    )
    expect(error).toContain(
      `${TARBALL}: signature ${server.url}/iso/${RELEASE}/${TARBALL}.sig: signed by key ${fixtureFingerprint()}, ` +
        'which is not in the shipped Arch Linux release keys (3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C, ' +
        '4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC; docs/keys.md)'
    )
  }, 120_000)

  it('a forged tarball (tarball and sha256sums.txt rewritten together) is refused: BAD signature', async () => {
    const error = await refused({ 'archive-url': `${server.url}/forged` }, runDir =>
      path.join(runDir, 'tools')
    )
    expect(error).toContain(
      `${TARBALL}: signature ${server.url}/forged/iso/${RELEASE}/${TARBALL}.sig: BAD signature`
    )
  }, 120_000)

  it('a tool cache entry forged the same way is refused, naming the entry to delete', async () => {
    let entry = ''
    const error = await refused({}, runDir => {
      // The entry the first build cached, with its tarball and checksum rewritten together.
      const forgedCache = path.join(runDir, 'tools')
      cpSync(toolCache(), forgedCache, { recursive: true })
      entry = path.join(forgedCache, 'archlinux-bootstrap/2026.11.1/x86_64')
      tamper(path.join(entry, 'archlinux-bootstrap-x86_64.tar.zst'), path.join(entry, 'sha256sums.txt'))
      return forgedCache
    })
    expect(error).toContain(
      `tool cache entry ${entry} does not verify: archlinux-bootstrap-x86_64.tar.zst: signature`
    )
    expect(error).toContain('BAD signature')
    expect(error).toContain(`Delete ${entry} to download the release again`)
  }, 120_000)
})
