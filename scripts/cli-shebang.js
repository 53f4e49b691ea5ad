// ncc drops the shebang of src/cli.ts; put it back so `npx arch-image` runs the bundle.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'

const file = new URL('../dist/cli/index.js', import.meta.url)
const text = readFileSync(file, 'utf8')
if (!text.startsWith('#!')) writeFileSync(file, `#!/usr/bin/env node\n${text}`)
chmodSync(file, 0o755)
