import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  CHILD_ENV_ALLOWLIST,
  CommandError,
  ProcessExec,
  shellQuote,
  SUDO_HOME,
  SUDO_PATH
} from '../../src/pipeline/exec.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'

describe('exec seam', () => {
  it('puts sudo -n -- env -i in front of privileged commands only when not root', () => {
    const parent = { PATH: '/home/runner/bin:/usr/bin', HOME: '/home/runner', LANG: 'en_US.UTF-8' }
    const asUser = new ProcessExec(new MemoryLog(), false, parent)
    expect(asUser.plan(['losetup', '-f'], { privileged: true }).argv).toEqual([
      'sudo',
      '-n',
      '--',
      'env',
      '-i',
      `PATH=${SUDO_PATH}`,
      'LANG=en_US.UTF-8',
      `HOME=${SUDO_HOME}`,
      'LC_ALL=C.UTF-8',
      'losetup',
      '-f'
    ])
    expect(asUser.plan(['qemu-img', 'info']).argv).toEqual(['qemu-img', 'info'])
    expect(
      asUser.plan(['apt-get', 'install'], { privileged: true, env: { DEBIAN_FRONTEND: 'noninteractive' } })
        .argv
    ).toEqual([
      'sudo',
      '-n',
      '--',
      'env',
      '-i',
      `PATH=${SUDO_PATH}`,
      'LANG=en_US.UTF-8',
      `HOME=${SUDO_HOME}`,
      'LC_ALL=C.UTF-8',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install'
    ])
    const asRoot = new ProcessExec(new MemoryLog(), true, parent)
    expect(asRoot.plan(['losetup', '-f'], { privileged: true }).argv).toEqual(['losetup', '-f'])
  })

  it('passes arguments untouched (no shell) and logs the command quoted', async () => {
    const log = new MemoryLog()
    const result = await new ProcessExec(log, true).run(['printf', '%s|', 'a b', '$(id)', "it's"], {
      quiet: true
    })
    expect(result.stdout).toBe("a b|$(id)|it's|")
    expect(log.lines[0]).toBe(`$ printf '%s|' 'a b' '$(id)' 'it'\\''s'`)
  })

  it('fails with the exit code and the tail of stderr', async () => {
    const exec = new ProcessExec(new MemoryLog(), true)
    const script = 'for i in $(seq 1 40); do echo line$i >&2; done; exit 3'
    const error = (await exec.run(['sh', '-c', script], { quiet: true }).catch(e => e)) as CommandError
    expect(error).toBeInstanceOf(CommandError)
    expect(error.code).toBe(3)
    expect(error.message).toMatch(/^sh exited with code 3:\nline26\n/)
    expect(error.message.endsWith('line40')).toBe(true)
    expect(error.message).not.toContain('line25\n')
  })

  it('returns failures when asked to, and names a missing command', async () => {
    const exec = new ProcessExec(new MemoryLog(), true)
    expect((await exec.run(['false'], { allowFailure: true })).code).toBe(1)
    await expect(exec.run(['arch-image-no-such-command'])).rejects.toThrow(
      'arch-image-no-such-command: command not found'
    )
  })

  it('masks secrets in logged commands and output', async () => {
    const log = new MemoryLog()
    log.setSecret('s3cret')
    await new ProcessExec(log, true).run(['echo', 'token=s3cret'])
    expect(log.lines.join('\n')).not.toContain('s3cret')
    expect(log.lines).toContain('$ echo token=***')
  })

  it('hands output lines, ended by \\n or \\r, to onLine as they arrive instead of the log', async () => {
    const log = new MemoryLog()
    const lines: string[] = []
    // A progress meter's carriage returns, a line split across writes, stderr, and no final newline.
    const script =
      "printf '  (0.00/100%%)\\r  (50'; sleep 0.2; printf '.00/100%%)\\r\\n'; echo warn >&2; printf done"
    const result = await new ProcessExec(log, true).run(['sh', '-c', script], {
      onLine: line => lines.push(line)
    })
    expect(lines).toEqual(['  (0.00/100%)', '  (50.00/100%)', 'warn', 'done'])
    expect(log.lines).toEqual([`$ sh -c ${shellQuote(script)}`])
    expect(result.stdout).toBe('  (0.00/100%)\r  (50.00/100%)\r\ndone')
  })

  it('tells the teardown tracker about each running command', async () => {
    const exec = new ProcessExec(new MemoryLog(), true)
    const events: string[] = []
    exec.tracker = {
      started: pid => {
        events.push(`start ${pid > 0}`)
        return 7
      },
      finished: handle => events.push(`done ${handle}`)
    }
    await exec.run(['true'])
    expect(events).toEqual(['start true', 'done 7'])
  })

  it('refuses new commands once closed', async () => {
    const exec = new ProcessExec(new MemoryLog(), true)
    exec.close()
    await expect(exec.run(['true'])).rejects.toThrow(/cancelled/)
  })

  it('quotes for display only when needed', () => {
    expect(shellQuote('/dev/loop0p3')).toBe('/dev/loop0p3')
    expect(shellQuote('$repo')).toBe("'$repo'")
  })
})

describe('the environment of spawned commands', () => {
  const secrets = {
    OS_PASSWORD: 'os-pass-1f0a',
    OS_APPLICATION_CREDENTIAL_SECRET: 'app-secret-2b1c',
    'INPUT_GITHUB-TOKEN': 'ghs_input-token-3c2d',
    INPUT_CLOUDS_YAML: 'clouds: {}',
    ACTIONS_RUNTIME_TOKEN: 'runtime-token-4d3e',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-5e4f',
    GITHUB_TOKEN: 'ghp_env-token-6f50',
    SSH_AUTH_SOCK: '/tmp/agent.sock',
    LD_PRELOAD: '/tmp/evil.so'
  }
  /** A runner's environment: the allowlisted variables, secrets and everything else. */
  function runnerEnv(bin: string): Record<string, string> {
    return {
      ...secrets,
      PATH: `${bin}:/usr/bin:/bin`,
      HOME: '/home/runner',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      TERM: 'dumb',
      SOURCE_DATE_EPOCH: '1700000000',
      https_proxy: 'http://proxyuser:pr0xy-pass@127.0.0.1:3128',
      NO_PROXY: 'localhost',
      LC_ALL: 'de_DE.UTF-8'
    }
  }

  function parseEnv(text: string): Record<string, string> {
    return Object.fromEntries(
      text
        .split('\n')
        .filter(Boolean)
        .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    )
  }

  /**
   * A `sudo` stand-in on PATH: drops `-n --` and runs the rest as sudo would for root, with a variable
   * of the invoking user's kept (as `Defaults !env_reset` or env_keep would).
   */
  function fakeSudoDir(): string {
    const dir = tempDir()
    writeFileSync(
      path.join(dir, 'sudo'),
      '#!/bin/sh\n[ "$1 $2" = "-n --" ] || exit 99\nshift 2\nexport OS_PASSWORD=kept-by-sudoers\nexec "$@"\n',
      { mode: 0o755 }
    )
    return dir
  }

  it('is the allowlist, LC_ALL=C.UTF-8 and options.env, nothing else (no sudo)', async () => {
    const bin = fakeSudoDir()
    const parent = runnerEnv(bin)
    for (const asRoot of [true, false]) {
      const exec = new ProcessExec(new MemoryLog(), asRoot, parent)
      for (const privileged of asRoot ? [false, true] : [false]) {
        const { stdout } = await exec.run(['env'], {
          privileged,
          env: { DEBIAN_FRONTEND: 'noninteractive' },
          quiet: true
        })
        expect(parseEnv(stdout)).toEqual({
          PATH: parent.PATH,
          HOME: '/home/runner',
          LANG: 'C.UTF-8',
          TZ: 'UTC',
          TERM: 'dumb',
          SOURCE_DATE_EPOCH: '1700000000',
          https_proxy: 'http://proxyuser:pr0xy-pass@127.0.0.1:3128',
          NO_PROXY: 'localhost',
          LC_ALL: 'C.UTF-8',
          DEBIAN_FRONTEND: 'noninteractive'
        })
      }
    }
  })

  it('is exactly ours through sudo, with the system PATH and root HOME, whatever sudo keeps', async () => {
    const parent = runnerEnv(fakeSudoDir())
    const exec = new ProcessExec(new MemoryLog(), false, parent)
    const { stdout } = await exec.run(['env'], {
      privileged: true,
      env: { MTOOLS_SKIP_CHECK: '1' },
      quiet: true
    })
    expect(parseEnv(stdout)).toEqual({
      PATH: SUDO_PATH,
      HOME: SUDO_HOME,
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      TERM: 'dumb',
      SOURCE_DATE_EPOCH: '1700000000',
      https_proxy: 'http://proxyuser:pr0xy-pass@127.0.0.1:3128',
      NO_PROXY: 'localhost',
      LC_ALL: 'C.UTF-8',
      MTOOLS_SKIP_CHECK: '1'
    })
    // and sudo itself gets nothing more than the allowlist either
    const plan = exec.plan(['env'], { privileged: true })
    expect(Object.keys(plan.env).every(name => CHILD_ENV_ALLOWLIST.includes(name) || name === 'LC_ALL')).toBe(
      true
    )
    for (const secret of Object.values(secrets)) {
      expect(plan.argv.join(' ')).not.toContain(secret)
      expect(Object.values(plan.env)).not.toContain(secret)
    }
  })

  it('logs the command and the names of the variables set, never their values', async () => {
    const log = new MemoryLog()
    const exec = new ProcessExec(log, false, runnerEnv(fakeSudoDir()))
    await exec.run(['true'], { privileged: true, env: { DEBIAN_FRONTEND: 'noninteractive' } })
    await exec.run(['true'], { env: { MTOOLS_SKIP_CHECK: '1' } })
    expect(log.lines).toEqual([
      '$ sudo -n -- true  [env: DEBIAN_FRONTEND]',
      '$ true  [env: MTOOLS_SKIP_CHECK]'
    ])
    const text = log.lines.join('\n')
    for (const value of ['pr0xy-pass', 'noninteractive', 'C.UTF-8', SUDO_PATH])
      expect(text).not.toContain(value)
  })
})
