// The disk stage through a recording exec: what it acquires is on the teardown stack before the
// command that acquires it runs, and a bad answer from losetup or sfdisk fails with it named.
import { describe, expect, it } from '@jest/globals'
import { existsSync, statSync } from 'node:fs'
import { diskStage, espMkfsArgs, partitionScript, rootMkfsArgs } from '../../src/stages/disk.js'
import { imageIds } from '../../src/image/reproducible.js'
import { testContext } from '../../test/support/context.js'

describe('disk stage', () => {
  it('registers the lock, the sparse raw file and the loop device before losetup runs', async () => {
    const { ctx, exec } = testContext({ 'disk-size': '2G' })
    let stackWhenAttaching: string[] = []
    exec.on(['losetup', '--find'], () => {
      stackWhenAttaching = ctx.teardown.resources.map(resource => resource.kind)
      return { stdout: 'no loop device here\n' }
    })
    await expect(diskStage.run(ctx)).rejects.toThrow(
      'losetup printed no loop device (got "no loop device here")'
    )
    expect(stackWhenAttaching).toEqual(['lock', 'path', 'loop'])
    const raw = ctx.teardown.resources.find(resource => resource.kind === 'path')
    expect(raw?.kind === 'path' && raw.path).toMatch(/\/\.test-image\.[^/]+\.raw\.partial$/)
    const rawPath = (raw as { path: string }).path
    expect(statSync(rawPath).size).toBe(2 * 1024 ** 3)
    expect(statSync(rawPath).blocks).toBe(0) // sparse
    expect(exec.commands[0]?.argv).toEqual(['losetup', '--find', '--show', '--partscan', rawPath])
    expect(exec.commands[0]?.options.privileged).toBe(true)
  })

  it('names the device on its teardown entry once losetup printed it, and writes the GPT through sfdisk', async () => {
    const { ctx, exec } = testContext()
    exec.on(['losetup', '--find'], { stdout: '/dev/loop42\n' })
    exec.on(['sfdisk'], { code: 1, stderr: 'sfdisk: cannot open /dev/loop42: Permission denied' })
    await expect(diskStage.run(ctx)).rejects.toThrow(
      'sfdisk exited with code 1:\nsfdisk: cannot open /dev/loop42'
    )
    const loop = ctx.teardown.resources.find(resource => resource.kind === 'loop')
    expect(loop).toMatchObject({ kind: 'loop', device: '/dev/loop42' })
    const sfdisk = exec.commands.find(command => command.argv[0] === 'sfdisk')
    expect(sfdisk?.argv).toEqual(['sfdisk', '--quiet', '--wipe', 'always', '/dev/loop42'])
    expect(sfdisk?.options.input).toBe(partitionScript(imageIds(ctx.imageName, undefined)))
    expect(ctx.disk).toBeUndefined()
  })

  it('a second run for the same image stops at the lock, before any file or device', async () => {
    const first = testContext()
    first.exec.on(['losetup', '--find'], { stdout: '' })
    await expect(diskStage.run(first.ctx)).rejects.toThrow('losetup printed no loop device')
    const { ctx, exec } = testContext({ 'output-dir': first.ctx.config.image.outputDir })
    await expect(diskStage.run(ctx)).rejects.toThrow(/lock/)
    expect(exec.commands).toEqual([])
    expect(ctx.teardown.resources).toEqual([])
    const lock = first.ctx.teardown.resources.find(resource => resource.kind === 'lock')
    expect(lock && existsSync((lock as { path: string }).path)).toBe(true)
  })
})

describe('disk layout', () => {
  it('is GPT with BIOS boot, a 300 MiB ESP and an x86-64 root partition', () => {
    expect(partitionScript()).toBe(
      [
        'label: gpt',
        'size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"',
        'size=300MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"',
        'type=4F68BCE3-E8CD-4D65-96E7-FBCAF984B709, name="root"',
        ''
      ].join('\n')
    )
  })

  it('fixes the disk and partition GUIDs when given the image ids', () => {
    const ids = imageIds('arch-cloud-20261201', '2026/12/01')
    const script = partitionScript(ids)
    expect(script).toContain(`label-id: ${ids.diskGuid}\n`)
    expect(script).toContain(`name="BIOS boot", uuid=${ids.partitionGuids[0]}\n`)
    expect(script).toContain(`name="EFI system", uuid=${ids.partitionGuids[1]}\n`)
    expect(script).toContain(`name="root", uuid=${ids.partitionGuids[2]}\n`)
  })

  it('makes the filesystems with the ids: ext4 UUID and hash seed, btrfs UUID, FAT volume id and no times', () => {
    const ids = imageIds('x', undefined)
    expect(rootMkfsArgs('ext4', ids, '/dev/loop7p3')).toEqual([
      'mkfs.ext4',
      '-q',
      '-F',
      '-L',
      'arch-root',
      '-U',
      ids.rootUuid,
      '-E',
      `hash_seed=${ids.hashSeed}`,
      '/dev/loop7p3'
    ])
    expect(rootMkfsArgs('btrfs', ids, '/dev/loop7p3')).toEqual([
      'mkfs.btrfs',
      '--quiet',
      '--force',
      '--label',
      'arch-root',
      '--uuid',
      ids.rootUuid,
      '/dev/loop7p3'
    ])
    expect(espMkfsArgs(ids, '/dev/loop7p2')).toEqual([
      'mkfs.vfat',
      '-F',
      '32',
      '-n',
      'ESP',
      '--invariant',
      '-i',
      ids.espVolumeId,
      '/dev/loop7p2'
    ])
  })
})
