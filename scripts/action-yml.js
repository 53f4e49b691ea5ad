// Writes action.yml from src/config/inputs.ts (the one list of inputs and outputs): npm run action-yml
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'

const root = path.resolve(import.meta.dirname, '..')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'action-yml-'))
try {
  execFileSync(
    path.join(root, 'node_modules/.bin/tsc'),
    ['src/config/inputs.ts', '--outDir', tmp, '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck'],
    { cwd: root, stdio: 'inherit' }
  )
  writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}')
  const { INPUTS, OUTPUTS } = await import(path.join(tmp, 'inputs.js'))
  const plain = text => text.replaceAll('`', '')
  const action = {
    name: 'arch-image',
    description: 'Build an Arch Linux cloud image for OpenStack as qcow2 or raw, sealed and checksummed.',
    author: 'arch-image developers',
    branding: { icon: 'package', color: 'blue' },
    inputs: Object.fromEntries(
      INPUTS.map(input => [
        input.name,
        { description: plain(input.description), required: false, default: input.default }
      ])
    ),
    outputs: Object.fromEntries(
      OUTPUTS.map(output => [output.name, { description: plain(output.description) }])
    ),
    runs: { using: 'node24', main: 'dist/main/index.js', post: 'dist/post/index.js', 'post-if': 'always()' }
  }
  writeFileSync(path.join(root, 'action.yml'), YAML.stringify(action, { lineWidth: 110 }))
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
