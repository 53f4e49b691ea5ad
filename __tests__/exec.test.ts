import { describe, expect, it } from '@jest/globals'
import { CommandError, Exec, shellQuote } from '../src/pipeline/exec.js'
import { MemoryLog } from './helpers/memory-log.js'

describe('exec seam', () => {
  it('puts sudo -n in front of privileged commands only when not root', () => {
    const asUser = new Exec(new MemoryLog(), false)
    expect(asUser.commandLine(['losetup', '-f'], { privileged: true })).toEqual([
      'sudo',
      '-n',
      '--',
      'losetup',
      '-f'
    ])
    expect(asUser.commandLine(['qemu-img', 'info'])).toEqual(['qemu-img', 'info'])
    expect(
      asUser.commandLine(['apt-get', 'install'], {
        privileged: true,
        env: { DEBIAN_FRONTEND: 'noninteractive' }
      })
    ).toEqual(['sudo', '-n', '--', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install'])
    const asRoot = new Exec(new MemoryLog(), true)
    expect(asRoot.commandLine(['losetup', '-f'], { privileged: true })).toEqual(['losetup', '-f'])
  })

  it('passes arguments untouched (no shell) and logs the command quoted', async () => {
    const log = new MemoryLog()
    const result = await new Exec(log, true).run(['printf', '%s|', 'a b', '$(id)', "it's"], { quiet: true })
    expect(result.stdout).toBe("a b|$(id)|it's|")
    expect(log.lines[0]).toBe(`$ printf '%s|' 'a b' '$(id)' 'it'\\''s'`)
  })

  it('fails with the exit code and the tail of stderr', async () => {
    const exec = new Exec(new MemoryLog(), true)
    const script = 'for i in $(seq 1 40); do echo line$i >&2; done; exit 3'
    const error = (await exec.run(['sh', '-c', script], { quiet: true }).catch(e => e)) as CommandError
    expect(error).toBeInstanceOf(CommandError)
    expect(error.code).toBe(3)
    expect(error.message).toMatch(/^sh exited with code 3:\nline26\n/)
    expect(error.message.endsWith('line40')).toBe(true)
    expect(error.message).not.toContain('line25\n')
  })

  it('returns failures when asked to, and names a missing command', async () => {
    const exec = new Exec(new MemoryLog(), true)
    expect((await exec.run(['false'], { allowFailure: true })).code).toBe(1)
    await expect(exec.run(['arch-image-no-such-command'])).rejects.toThrow(
      'arch-image-no-such-command: command not found'
    )
  })

  it('masks secrets in logged commands and output', async () => {
    const log = new MemoryLog()
    log.setSecret('s3cret')
    await new Exec(log, true).run(['echo', 'token=s3cret'])
    expect(log.lines.join('\n')).not.toContain('s3cret')
    expect(log.lines).toContain('$ echo token=***')
  })

  it('tells the teardown tracker about each running command', async () => {
    const exec = new Exec(new MemoryLog(), true)
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
    const exec = new Exec(new MemoryLog(), true)
    exec.close()
    await expect(exec.run(['true'])).rejects.toThrow(/cancelled/)
  })

  it('quotes for display only when needed', () => {
    expect(shellQuote('/dev/loop0p3')).toBe('/dev/loop0p3')
    expect(shellQuote('$repo')).toBe("'$repo'")
  })
})
