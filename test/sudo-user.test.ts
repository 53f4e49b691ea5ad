// The build as GitHub's hosted runners run actions: an unprivileged user with passwordless sudo.
// Privileged commands go through `sudo -n`; what the run leaves is owned by that user. The sudoers
// entry keeps the user's environment (`!env_reset`, as a self-hosted runner's may): still no secret of
// the runner reaches a hook script or a package scriptlet.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CHILD_ENV_ALLOWLIST, SUDO_HOME, SUDO_PATH } from '../src/pipeline/exec.js'
import {
  envDumpHook,
  fixtureInputs,
  fixtureRepo,
  leaksUnder,
  readEnvDumps,
  runAction,
  runPost,
  scratchDir,
  secretEnvironment,
  ADDED_BY_TOOLS,
  type ActionRun
} from './helpers.js'

describe('as an unprivileged user with passwordless sudo', () => {
  const user = `aitest${randomBytes(3).toString('hex')}`
  const sudoers = `/etc/sudoers.d/${user}`
  let uid: number
  let gid: number
  let dir: string
  let run: ActionRun
  let postCode: number | null
  const secrets = secretEnvironment()

  beforeAll(async () => {
    const repo = fixtureRepo()
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', user])
    writeFileSync(sudoers, `Defaults:${user} !env_reset\n${user} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 })
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }))
    gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }))
    dir = scratchDir()
    const options = {
      dir,
      user,
      env: { HOME: `/home/${user}`, ...secrets },
      inputs: {
        ...fixtureInputs(repo, dir),
        packages: 'fixture-hello2 fixture-envdump',
        scripts: 'after-bootstrap: envdump.sh',
        // The OS_* values are bait, not a cloud: keep the build from trying Glance with them.
        glance: 'false'
      }
    }
    // The runner's files and workspace exist before the step and belong to the runner's user.
    execFileSync('mkdir', ['-p', path.join(dir, 'runner_temp'), path.join(dir, 'workspace')])
    writeFileSync(path.join(dir, 'workspace/envdump.sh'), envDumpHook('/var/lib/hook'), { mode: 0o755 })
    for (const file of ['github_output', 'github_state', 'step_summary'])
      writeFileSync(path.join(dir, file), '')
    execFileSync('chown', ['-R', `${uid}:${gid}`, dir])
    run = await runAction(options)
    postCode = (await runPost(options)).code
  }, 300_000)

  afterAll(() => {
    if (dir) execFileSync('rm', ['-rf', dir])
    execFileSync('rm', ['-f', sudoers])
    execFileSync('userdel', ['--remove', user], { stdio: 'ignore' })
  })

  it('builds the image through sudo -n', () => {
    expect(run.output).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(run.output).toMatch(/\$ sudo -n -- losetup --find --show --partscan /)
    expect(run.output).toMatch(/\$ sudo -n -- pacstrap -C /)
    expect(run.outputs['package-count']).toBe('7')
    expect(postCode).toBe(0)
  })

  it('leaves the image, SHA256SUMS, the manifest, the SBOMs and the package cache owned by that user', () => {
    const owned = (file: string) => {
      const stat = statSync(file)
      return { file: path.basename(file), uid: stat.uid, gid: stat.gid }
    }
    const files = [
      run.outputs['image-path'] as string,
      run.outputs['sha256sums-path'] as string,
      run.outputs['manifest-path'] as string,
      run.outputs['sbom-spdx-path'] as string,
      run.outputs['sbom-cyclonedx-path'] as string,
      path.dirname(run.outputs['image-path'] as string),
      path.join(dir, 'pkg-cache'),
      ...readdirSync(path.join(dir, 'pkg-cache')).map(name => path.join(dir, 'pkg-cache', name))
    ]
    expect(files.length).toBeGreaterThan(8)
    for (const file of files) expect(owned(file)).toEqual({ file: path.basename(file), uid, gid })
  })

  it('marks the package directory it created as its own, and keeps the mark through pruning', () => {
    expect(run.output).toContain(`package cache: created ${path.join(dir, 'pkg-cache')}`)
    expect(readFileSync(path.join(dir, 'pkg-cache/.arch-image-cache'), 'utf8')).toMatch(
      /^arch-image created this package cache directory/
    )
    expect(run.output).not.toMatch(/::warning::package-cache-dir/)
  })

  it('gives hooks and package scriptlets, through sudo, the allowlist and none of the runner secrets', async () => {
    const marker = 'ARCH_IMAGE_HOOK_POINT=after-bootstrap'
    const dumps = await readEnvDumps(run.outputs['image-path'] as string, 'var/lib/hook', [
      marker,
      ...Object.values(secrets)
    ])
    // sudo kept the user's environment; env -i replaced it with ours: the system PATH, root's HOME
    for (const seen of [dumps.hook, dumps.scriptlet]) {
      expect(seen).toMatchObject({ PATH: SUDO_PATH, HOME: SUDO_HOME, LC_ALL: 'C.UTF-8' })
    }
    expect(dumps.hook).toMatchObject({
      ARCH_IMAGE_HOOK_POINT: 'after-bootstrap',
      ARCH_IMAGE_FILESYSTEM: 'ext4'
    })
    expect(dumps.hookEnv).toContain(`${marker}\n`)
    expect(dumps.scriptletEnv).toContain('LC_ALL=C.UTF-8\n')
    const allowed = new Set([...CHILD_ENV_ALLOWLIST, 'LC_ALL', ...ADDED_BY_TOOLS])
    expect(
      Object.keys(dumps.hook).filter(name => !allowed.has(name) && !name.startsWith('ARCH_IMAGE_'))
    ).toEqual([])
    expect(Object.keys(dumps.scriptlet).filter(name => !allowed.has(name))).toEqual([])
    expect(dumps.onDisk).toEqual([marker])
  }, 120_000)

  it('leaves nothing attached or mounted', () => {
    expect(leaksUnder(dir)).toEqual({ loops: [], mounts: [] })
    expect(readdirSync(path.join(dir, 'runner_temp'))).toEqual([])
  })
})
