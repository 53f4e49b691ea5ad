// Writes action.yml from src/config/inputs.ts (the one list of inputs and outputs): npm run action-yml
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'

const root = path.resolve(import.meta.dirname, '..')

// What the runner must provide, at the top of action.yml (README.md, "Requirements", says the same).
// node24: actions/runner v2.327.1 or later, as actions/checkout's README (commit ff7abcd) and
// actions/upload-artifact's v6 README state for their node24 releases.
const HEADER = `# Generated from src/config/inputs.ts by \`npm run action-yml\`: edit there, not here.
#
# Runs on node24: needs actions/runner v2.327.1 or later. GitHub-hosted runners have it; update
# self-hosted runners. On GitHub Enterprise Server: a GHES version whose runner is v2.327.1 or later
# (or self-hosted runners updated to it); \`cache: true\` needs the Actions cache service enabled there
# (without it the build runs without the package cache, and says so in its log); releases, comments and cleanup call the API at
# GITHUB_API_URL, which the runner sets to the instance's.
`

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
  writeFileSync(path.join(root, 'action.yml'), HEADER + YAML.stringify(action, { lineWidth: 110 }))
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
