// Booting an image as a cloud would, for the boot test: a throw-away qcow2 overlay larger than the
// image (the image file is only read), a NoCloud seed written with mtools (no FAT mount), user-mode
// networking restricted to the host with SSH forwarded to a free port on 127.0.0.1, the serial
// console in a file and a monitor socket to stop the machine.
import { existsSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { Firmware } from '../config/config.js'
import type { Accel } from '../pipeline/context.js'
import type { Exec } from '../pipeline/exec.js'

const OVMF_CANDIDATES = [
  '/usr/share/ovmf/OVMF.fd',
  '/usr/share/OVMF/OVMF.fd',
  '/usr/share/edk2/x64/OVMF.4m.fd',
  '/usr/share/edk2-ovmf/x64/OVMF.fd',
  '/usr/share/qemu/OVMF.fd'
]

export function findOvmf(candidates = OVMF_CANDIDATES): string | undefined {
  return candidates.find(file => existsSync(file))
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

export interface SeedData {
  instanceId: string
  hostname: string
  userData: string
}

/** A NoCloud seed: a FAT image labelled CIDATA holding user-data and meta-data. */
export async function makeSeed(exec: Exec, dir: string, seed: SeedData): Promise<string> {
  const userData = path.join(dir, 'user-data')
  const metaData = path.join(dir, 'meta-data')
  writeFileSync(userData, seed.userData)
  writeFileSync(metaData, `instance-id: ${seed.instanceId}\nlocal-hostname: ${seed.hostname}\n`)
  const image = path.join(dir, 'seed.img')
  await exec.run(['mkfs.vfat', '-n', 'CIDATA', '-C', image, '2048'], { quiet: true })
  await exec.run(['mcopy', '-i', image, userData, metaData, '::/'], {
    quiet: true,
    env: { MTOOLS_SKIP_CHECK: '1' }
  })
  return image
}

export async function createOverlay(
  exec: Exec,
  image: { path: string; format: string },
  overlay: string,
  sizeBytes: number
): Promise<void> {
  await exec.run([
    'qemu-img',
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    image.path,
    '-F',
    image.format,
    overlay,
    String(sizeBytes)
  ])
}

export interface MachineFiles {
  overlay: string
  seed: string
  console: string
  monitor: string
  pidFile: string
}

export interface MachineOptions {
  firmware: Firmware
  accel: Accel
  ovmf?: string
  sshPort: number
  files: MachineFiles
  /** QEMU is killed after this many seconds whatever happens to us. */
  limitSeconds: number
}

export function qemuArgv(options: MachineOptions): string[] {
  const { files } = options
  if (options.firmware === 'uefi' && !options.ovmf) throw new Error('BUG: UEFI without OVMF')
  return [
    'timeout',
    '--kill-after=10',
    String(options.limitSeconds),
    'qemu-system-x86_64',
    '-machine',
    'q35',
    '-accel',
    options.accel,
    '-m',
    '1024',
    '-smp',
    '2',
    '-display',
    'none',
    '-serial',
    `file:${files.console}`,
    '-monitor',
    `unix:${files.monitor},server=on,wait=off`,
    '-pidfile',
    files.pidFile,
    ...(options.firmware === 'uefi' ? ['-bios', options.ovmf as string] : []),
    '-drive',
    `file=${files.overlay},if=virtio,format=qcow2`,
    '-drive',
    `file=${files.seed},if=virtio,format=raw,readonly=on`,
    // Restricted: the guest reaches nothing but the forwarded port (no internet, no host services).
    '-nic',
    `user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:${options.sshPort}-:22`
  ]
}

/** One command on QEMU's human monitor; resolves with what it printed (empty if the socket is gone). */
export async function monitorCommand(socket: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise(resolve => {
    let output = ''
    const connection = net.createConnection(socket)
    const done = (): void => {
      connection.destroy()
      clearTimeout(timer)
      resolve(output)
    }
    const timer = setTimeout(done, timeoutMs)
    connection.on('error', done)
    connection.on('close', done)
    connection.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      // The banner ends with a prompt; the answer to our command ends with the next one.
      const prompts = output.split('(qemu)').length - 1
      if (prompts === 1 && !output.includes(command)) connection.write(`${command}\n`)
      if (prompts >= 2) done()
    })
  })
}

/** Whether something on 127.0.0.1:port greets like an SSH server (slirp accepts even when the guest does not). */
export async function sshBanner(port: number, timeoutMs = 5000): Promise<boolean> {
  return new Promise(resolve => {
    let text = ''
    const connection = net.createConnection({ host: '127.0.0.1', port })
    const done = (answer: boolean): void => {
      clearTimeout(timer)
      connection.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    connection.on('error', () => done(false))
    connection.on('close', () => done(text.startsWith('SSH-')))
    connection.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      if (text.startsWith('SSH-')) done(true)
    })
  })
}
