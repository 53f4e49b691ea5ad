// Writes the inputs/outputs reference into README.md (between its marker comments) from
// src/config/inputs.ts: npm run readme (npm run action-yml runs it too).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'readme-reference-'))
try {
  execFileSync(
    path.join(root, 'node_modules/.bin/tsc'),
    [
      'src/config/inputs.ts',
      'src/config/reference.ts',
      '--outDir',
      tmp,
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck'
    ],
    { cwd: root, stdio: 'inherit' }
  )
  writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}')
  const { INPUTS, OUTPUTS } = await import(path.join(tmp, 'inputs.js'))
  const { referenceMarkdown, replaceReference } = await import(path.join(tmp, 'reference.js'))
  const readme = path.join(root, 'README.md')
  writeFileSync(readme, replaceReference(readFileSync(readme, 'utf8'), referenceMarkdown(INPUTS, OUTPUTS)))
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
