import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cacheKey, restorePackageCache, savePackageCache } from './package-cache.js'
import { ConsoleLog } from '../pipeline/log.js'
import { startCacheService } from '../../test/fakes/cache-service.js'

const service = await startCacheService()
const scratch = mkdtempSync(path.join(os.tmpdir(), 'smoke-'))
Object.assign(process.env, service.env, { GITHUB_WORKSPACE: scratch, RUNNER_TEMP: scratch })
const dir = path.join(scratch, 'pkg')
mkdirSync(dir)
writeFileSync(path.join(dir, 'base-3-2-any.pkg.tar.zst'), 'x')
const { key, restoreKeys } = cacheKey({ architecture: 'x86_64', servers: ['s'], packages: ['base'] })
const log = new ConsoleLog()
console.log(JSON.stringify(await savePackageCache(dir, key, log)))
rmSync(dir, { recursive: true })
console.log(JSON.stringify(await restorePackageCache(dir, key, restoreKeys, log)))
console.log(service.requests.map(r => `${r.rpc ?? r.op}:${r.status}`).join(' '))
await service.close()
rmSync(scratch, { recursive: true })
