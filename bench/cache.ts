// Cold vs warm build of the same image with the package cache: the built action (dist/) run the way
// the runner runs it, with the fake cache v2 service and an HTTP mirror on 127.0.0.1 that counts the
// bytes it serves. Prints the time ratio and the bytes fetched from the mirror in each build.
//   [MIRROR_MBIT=<megabits per second>] bench/run.sh cache [repository-dir] [packages...]
// Default repository: the fixture repository; pass the stand-in repository for a realistic package set.
// The mirror answers at loopback speed unless MIRROR_MBIT gives it a link as slow as a real mirror's.
import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import path from 'node:path'
import { startCacheService } from '../test/fakes/cache-service.js'
import { fixtureRepo, runAction, runPost, scratchDir, serveDirectory } from '../test/helpers.js'

const [repoArg, ...packageArgs] = process.argv.slice(2)
const repo = repoArg ? path.resolve(repoArg) : fixtureRepo()
const base = packageArgs.length > 0 ? packageArgs.join(' ') : 'base'
const mbit = Number(process.env.MIRROR_MBIT ?? 0)
if (!Number.isFinite(mbit) || mbit < 0) throw new Error(`MIRROR_MBIT must be a number of megabits per second`)
const mirror = await serveDirectory(repo, { bytesPerSecond: mbit > 0 ? (mbit * 1e6) / 8 : undefined })
const cache = await startCacheService()
const shared = scratchDir('arch-image-bench-')

function bytesServed(paths: string[]): number {
  return paths.reduce((sum, p) => {
    try {
      return sum + statSync(path.join(repo, p)).size
    } catch {
      return sum
    }
  }, 0)
}

async function build(label: string): Promise<{ seconds: number; bytes: number; packages: number }> {
  execFileSync('rm', ['-rf', path.join(shared, 'pkg')])
  const dir = scratchDir('arch-image-bench-')
  const seen = mirror.requests.length
  const options = {
    dir,
    env: cache.env,
    inputs: {
      mirror: `${mirror.url}/$repo/os/$arch`,
      'signature-level': 'Never',
      'pacman-from': 'host',
      configure: 'false',
      'base-packages': base,
      'disk-size': '4G',
      'package-cache-dir': path.join(shared, 'pkg')
    }
  }
  const started = performance.now()
  const run = await runAction(options)
  const seconds = (performance.now() - started) / 1000
  if (run.code !== 0) throw new Error(`${label} build failed:\n${run.output.slice(-2000)}`)
  await runPost(options)
  execFileSync('rm', ['-rf', dir])
  const served = mirror.requests.slice(seen)
  return {
    seconds,
    bytes: bytesServed(served),
    packages: served.filter(p => p.endsWith('.pkg.tar.zst')).length
  }
}

try {
  const cold = await build('cold')
  const warm = await build('warm')
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
  console.log(`repository: ${repo}; packages: ${base}`)
  console.log(`mirror link: ${mbit > 0 ? `${mbit} Mbit/s shared by all downloads` : 'loopback, unthrottled'}`)
  console.log(
    `cold: ${cold.seconds.toFixed(1)} s, ${cold.packages} packages, ${mib(cold.bytes)} MiB from the mirror`
  )
  console.log(
    `warm: ${warm.seconds.toFixed(1)} s, ${warm.packages} packages, ${mib(warm.bytes)} MiB from the mirror`
  )
  console.log(`time ratio warm/cold: ${(warm.seconds / cold.seconds).toFixed(2)}`)
  console.log(`mirror bytes ratio warm/cold: ${(warm.bytes / Math.max(cold.bytes, 1)).toFixed(4)}`)
} finally {
  await mirror.close()
  await cache.close()
  execFileSync('rm', ['-rf', shared])
}
