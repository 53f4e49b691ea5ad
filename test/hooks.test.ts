// User hooks on a real build: a files overlay copied over the root (owner root, modes and links
// kept) and scripts run inside the image at their named points, with the build's ARCH_IMAGE_*
// variables and none of the runner's secrets (nor does a package scriptlet see them); a failing script
// fails the build with its name and exit code and leaves nothing attached or mounted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import { CHILD_ENV_ALLOWLIST } from '../src/pipeline/exec.js'
import {
  envDumpHook,
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  readEnvDumps,
  runAction,
  scratchDir,
  secretEnvironment,
  ADDED_BY_TOOLS,
  withImageRoot,
  type ActionRun
} from './helpers.js'

let repo: string
const dirs: string[] = []

beforeAll(() => {
  repo = fixtureRepo()
}, 300_000)

afterAll(() => {
  for (const dir of dirs) execFileSync('rm', ['-rf', dir])
})

function inputs(dir: string, extra: Record<string, string>): Record<string, string> {
  return { ...fixtureInputs(repo, dir), ...extra }
}

function script(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 })
}

describe('files overlay and hook scripts', () => {
  let dir: string
  let run: ActionRun
  const secrets = secretEnvironment()

  beforeAll(async () => {
    dir = scratchDir()
    dirs.push(dir)
    const workspace = path.join(dir, 'workspace')
    const overlay = path.join(workspace, 'overlay')
    mkdirSync(path.join(overlay, 'etc/motd.d'), { recursive: true })
    mkdirSync(path.join(overlay, 'usr/local/bin'), { recursive: true })
    writeFileSync(path.join(overlay, 'etc/motd.d/welcome'), 'built by arch-image\n')
    chmodSync(path.join(overlay, 'etc/motd.d/welcome'), 0o640)
    writeFileSync(path.join(overlay, 'usr/local/bin/tool'), '#!/bin/sh\necho tool\n')
    chmodSync(path.join(overlay, 'usr/local/bin/tool'), 0o750)
    symlinkSync('/usr/bin/fixture-hello-not-installed', path.join(overlay, 'etc/dangling-link'))
    execFileSync('chown', ['-R', '65534:65534', overlay])
    mkdirSync(path.join(workspace, 'hooks'))
    script(
      path.join(workspace, 'hooks/early.sh'),
      'cat /var/lib/fixture-service/scriptlet-ran > /var/lib/hook-after-bootstrap'
    )
    script(
      path.join(workspace, 'hooks/configured.sh'),
      'test -f /etc/motd.d/welcome\necho "overlay present" > /var/lib/hook-after-configure'
    )
    // Runs before sealing: what it leaves in a sealed place is removed, the rest stays.
    script(
      path.join(workspace, 'hooks/last.sh'),
      'echo key > /etc/ssh/ssh_host_late_key\necho done > /var/lib/hook-before-seal'
    )
    writeFileSync(path.join(workspace, 'hooks/envdump.sh'), envDumpHook('/var/lib/hook'), { mode: 0o755 })
    run = await runAction({
      dir,
      inputs: inputs(dir, {
        files: 'overlay',
        packages: 'fixture-envdump',
        scripts:
          'after-bootstrap: [hooks/early.sh, hooks/envdump.sh]\nafter-configure: hooks/configured.sh\nbefore-seal: hooks/last.sh\n',
        // The OS_* values are bait, not a cloud: without this an incomplete OpenStack config could
        // make the build try Glance (glance: auto) instead of building.
        glance: 'false'
      }),
      env: secrets
    })
  }, 300_000)

  it('succeeds, with each hook point a stage of its own', () => {
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    for (const point of ['after-bootstrap', 'after-configure', 'before-seal']) {
      expect(run.summary).toMatch(new RegExp(`<td>hooks ${point}</td><td>[0-9.]+ s</td><td>ok</td>`))
    }
    expect(run.output).toMatch(/::group::hook after-bootstrap: early\.sh/)
    expect(run.output).toMatch(/::group::hook before-seal: last\.sh/)
  })

  it('copied the overlay owned by root with its modes and links', async () => {
    await withImageRoot(run.outputs['image-path'] as string, root => {
      const welcome = statSync(path.join(root, 'etc/motd.d/welcome'))
      expect({ uid: welcome.uid, gid: welcome.gid, mode: welcome.mode & 0o777 }).toEqual({
        uid: 0,
        gid: 0,
        mode: 0o640
      })
      expect(readFileSync(path.join(root, 'etc/motd.d/welcome'), 'utf8')).toBe('built by arch-image\n')
      const tool = statSync(path.join(root, 'usr/local/bin/tool'))
      expect({ uid: tool.uid, mode: tool.mode & 0o777 }).toEqual({ uid: 0, mode: 0o750 })
      expect(lstatSync(path.join(root, 'etc/dangling-link')).isSymbolicLink()).toBe(true)
      expect(readlinkSync(path.join(root, 'etc/dangling-link'))).toBe('/usr/bin/fixture-hello-not-installed')
    })
  }, 60_000)

  it('ran each script inside the image at its point, in order', async () => {
    await withImageRoot(run.outputs['image-path'] as string, root => {
      expect(readFileSync(path.join(root, 'var/lib/hook-after-bootstrap'), 'utf8')).toBe(
        'post_install 1.0-1\n'
      )
      expect(readFileSync(path.join(root, 'var/lib/hook-after-configure'), 'utf8')).toBe('overlay present\n')
      expect(readFileSync(path.join(root, 'var/lib/hook-before-seal'), 'utf8')).toBe('done\n')
      expect(() => lstatSync(path.join(root, 'etc/ssh/ssh_host_late_key'))).toThrow()
      expect(execFileSync('ls', ['-A', path.join(root, 'var/tmp')], { encoding: 'utf8' })).toBe('')
    })
  }, 60_000)

  it('gave hooks and package scriptlets the build facts and none of the runner secrets', async () => {
    // the marker proves the scan of the whole disk (deleted files and free space included) sees the dumps
    const marker = 'ARCH_IMAGE_HOOK_POINT=after-bootstrap'
    const dumps = await readEnvDumps(run.outputs['image-path'] as string, 'var/lib/hook', [
      marker,
      ...Object.values(secrets)
    ])
    expect(dumps.hook).toMatchObject({
      ARCH_IMAGE_IMAGE_NAME: run.outputs['image-name'],
      ARCH_IMAGE_FAMILY: 'arch-cloud',
      ARCH_IMAGE_SNAPSHOT: '',
      ARCH_IMAGE_KERNEL: 'linux',
      ARCH_IMAGE_FILESYSTEM: 'ext4',
      ARCH_IMAGE_BOOT_MODE: 'hybrid',
      ARCH_IMAGE_HOOK_POINT: 'after-bootstrap',
      LC_ALL: 'C.UTF-8'
    })
    expect(dumps.hookEnv).toContain(`${marker}\n`)
    expect(dumps.scriptlet.LC_ALL).toBe('C.UTF-8')
    expect(dumps.scriptletEnv).toContain('LC_ALL=C.UTF-8\n')
    const allowed = new Set([...CHILD_ENV_ALLOWLIST, 'LC_ALL', ...ADDED_BY_TOOLS])
    expect(
      Object.keys(dumps.hook).filter(name => !allowed.has(name) && !name.startsWith('ARCH_IMAGE_'))
    ).toEqual([])
    expect(Object.keys(dumps.scriptlet).filter(name => !allowed.has(name))).toEqual([])
    expect(dumps.onDisk).toEqual([marker])
  }, 120_000)
})

describe('a failing hook script', () => {
  it('fails the build naming the script and its exit code, and leaves nothing behind', async () => {
    const dir = scratchDir()
    dirs.push(dir)
    mkdirSync(path.join(dir, 'workspace'), { recursive: true })
    const broken = path.join(dir, 'workspace/broken.sh')
    script(broken, 'echo "configuration went wrong" >&2\nexit 7')
    const run = await runAction({ dir, inputs: inputs(dir, { scripts: 'after-configure: broken.sh' }) })
    expect(run.code).toBe(1)
    const error = /::error::(.*)/.exec(run.output)?.[1]?.replaceAll('%0A', '\n')
    expect(error).toBe(
      `stage "hooks after-configure" failed: hook script ${broken} (after-configure) exited with code 7:\nconfiguration went wrong`
    )
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(JSON.parse(run.state.teardown ?? '[]')).toEqual([])
    expect(statSync(path.join(dir, 'workspace/arch-image-out')).isDirectory()).toBe(true)
    expect(execFileSync('ls', ['-A', path.join(dir, 'workspace/arch-image-out')], { encoding: 'utf8' })).toBe(
      ''
    )
  }, 120_000)
})
