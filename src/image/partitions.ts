// The partition nodes of an attached disk image: their names, and waiting until the kernel made them.
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Context } from '../pipeline/context.js'

export function partitionNode(device: string, number: number): string {
  return /\d$/.test(device) ? `${device}p${number}` : `${device}${number}`
}

// Some kernels (this project's CI machine among them) do not scan the partition table when it is
// written, so `losetup --partscan` alone leaves no partition nodes: ask partx, then wait for them.
export async function waitForPartitions(ctx: Context, device: string, count: number): Promise<void> {
  await ctx.exec.run(['partx', '-u', device], { privileged: true, allowFailure: true })
  const nodes = Array.from({ length: count }, (_, i) => partitionNode(device, i + 1))
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (nodes.every(node => existsSync(node))) return
    if (waited === 2_000)
      await ctx.exec.run(['partx', '-a', device], { privileged: true, allowFailure: true })
    await sleep(100)
  }
  throw new Error(`partition nodes ${nodes.join(', ')} did not appear within 10 s`)
}
