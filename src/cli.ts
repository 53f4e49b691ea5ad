#!/usr/bin/env node
// `arch-image build [--input value ...]`: the action's pipeline from a terminal. Flags are the
// action's inputs, with the same defaults and the same validation.
import { parseArgs } from 'node:util'
import { buildConfig, ConfigError } from './config/config.js'
import { INPUTS, OUTPUTS } from './config/inputs.js'
import { ConsoleLog } from './pipeline/log.js'
import { buildOutputs, factRows, stageRows } from './pipeline/report.js'
import { startRun } from './stages/index.js'

export function helpText(): string {
  const lines = [
    'Usage: arch-image build [--<input> <value> ...]',
    '',
    'Builds an Arch Linux cloud image (run as root, or as a user with passwordless sudo).',
    '',
    'Options (the action inputs of action.yml):'
  ]
  for (const input of INPUTS) {
    const shown = input.default ? ` (default: ${input.default})` : ''
    lines.push(`  --${input.name} <value>`, `      ${input.description.replaceAll('`', '')}${shown}`)
  }
  lines.push('  --help', '      Show this help.', '', 'Prints the outputs as name=value lines:')
  lines.push(`  ${OUTPUTS.map(output => output.name).join(', ')}`)
  return lines.join('\n')
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map(row => (row[column] ?? '').length))) ?? []
  return rows
    .map(row =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()
    )
    .join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries(INPUTS.map(input => [input.name, { type: 'string' as const }]))
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: true
    })
  } catch (error) {
    process.stderr.write(`arch-image: ${(error as Error).message}\nTry 'arch-image --help'.\n`)
    return 2
  }
  const [command, ...extra] = parsed.positionals
  if (parsed.values.help || command === 'help') {
    process.stdout.write(`${helpText()}\n`)
    return 0
  }
  if (command !== 'build' || extra.length > 0) {
    process.stderr.write(
      `arch-image: expected the command 'build'${command ? `, not '${command}'` : ''}\nTry 'arch-image --help'.\n`
    )
    return 2
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  let config
  const secrets: string[] = []
  try {
    // Outside Actions the token comes from GITHUB_TOKEN unless given as a flag.
    const read = (name: string): string =>
      String(values[name] ?? (name === 'github-token' ? (process.env.GITHUB_TOKEN ?? '') : ''))
    config = buildConfig(read, {
      cwd: process.cwd(),
      environment: process.env,
      mask: secret => secrets.push(secret)
    })
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`arch-image: ${error.message}\n`)
      return 2
    }
    throw error
  }

  const log = new ConsoleLog()
  for (const secret of secrets) log.setSecret(secret)
  if (config.github.token && !config.github.token.includes('${{')) log.setSecret(config.github.token)
  if (config.github.release) log.setSecret(config.github.release.token)
  const run = startRun({ config, log })
  const onSignal = (signal: NodeJS.Signals): void => {
    void run.cancel(`received ${signal}`).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await run.done
  } catch (error) {
    log.info(`\n${table([['stage', 'duration', 'result'], ...stageRows(run.ctx)])}`)
    log.error((error as Error).message)
    return 1
  }
  log.info(`\n${table([['stage', 'duration', 'result'], ...stageRows(run.ctx)])}\n`)
  log.info(`${table(factRows(run.ctx))}\n`)
  for (const [name, value] of Object.entries(buildOutputs(run.ctx))) log.info(`${name}=${value}`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
