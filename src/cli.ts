#!/usr/bin/env node
// `arch-image build|validate [--input value ...]`: the action's pipeline from a terminal. Flags are
// the action's inputs, with the same defaults and the same validation.
import { parseArgs } from 'node:util'
import packageJson from '../package.json' with { type: 'json' }
import { buildConfig, ConfigError, type Config } from './config/config.js'
import { INPUTS, OUTPUTS } from './config/inputs.js'
import { ConsoleLog } from './pipeline/log.js'
import { buildOutputs, factRows, stageRows } from './pipeline/report.js'
import { startRun } from './stages/index.js'

/** The exit codes, as --help lists them. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, cancelled: 130 } as const

export function helpText(): string {
  const lines = [
    'Usage: arch-image build [--<input> <value> ...] [--json]',
    '       arch-image validate [--<input> <value> ...] [--json]',
    '       arch-image --version | --help',
    '',
    'Commands:',
    '  build      Build an Arch Linux cloud image (run as root, or as a user with passwordless sudo).',
    '  validate   Check the flags exactly as build does, then stop: no disk, loop device or directory is',
    '             touched.',
    '',
    'Options (the action inputs of action.yml):'
  ]
  for (const input of INPUTS) {
    const shown = input.default ? ` (default: ${input.default})` : ''
    lines.push(`  --${input.name} <value>`, `      ${input.description.replaceAll('`', '')}${shown}`)
  }
  lines.push(
    '  --json',
    '      Print the result as one JSON object on stdout and every log line on stderr. build: the',
    '      outputs (below), or {"error": "..."} when it fails; validate: {"valid": true}, or',
    '      {"valid": false, "error": "..."}.',
    '  --version',
    '      Print the version.',
    '  --help',
    '      Show this help.',
    '',
    'build prints the outputs as name=value lines (with --json, as one JSON object):',
    `  ${OUTPUTS.map(output => output.name).join(', ')}`,
    '',
    'Exit codes:',
    `  ${EXIT.ok}    built (build), or the flags are valid (validate)`,
    `  ${EXIT.failed}    the build failed (everything it held was released)`,
    `  ${EXIT.badInput}    bad input: an unknown command or flag, or a flag value that is not accepted`,
    `  ${EXIT.cancelled}  cancelled by SIGINT or SIGTERM (everything the build held was released)`
  )
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

/**
 * With --json, stdout carries the result alone: whatever else is written there (the log, and any
 * library that prints) goes to stderr. Returns the writer of the real stdout.
 */
function reserveStdout(): (text: string) => void {
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write
  return text => {
    write(text)
  }
}

function usageError(message: string): number {
  process.stderr.write(`arch-image: ${message}\nTry 'arch-image --help'.\n`)
  return EXIT.badInput
}

export async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries(INPUTS.map(input => [input.name, { type: 'string' as const }]))
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...options,
        help: { type: 'boolean' },
        version: { type: 'boolean' },
        json: { type: 'boolean' }
      },
      allowPositionals: true
    })
  } catch (error) {
    return usageError((error as Error).message)
  }
  const [command, ...extra] = parsed.positionals
  if (parsed.values.help || command === 'help') {
    process.stdout.write(`${helpText()}\n`)
    return EXIT.ok
  }
  if (parsed.values.version) {
    process.stdout.write(`${packageJson.version}\n`)
    return EXIT.ok
  }
  if ((command !== 'build' && command !== 'validate') || extra.length > 0) {
    return usageError(
      `expected the command 'build' or 'validate'${command ? `, not '${[command, ...extra].join(' ')}'` : ''}`
    )
  }
  const json = parsed.values.json === true
  const print = json ? reserveStdout() : (text: string) => void process.stdout.write(text)
  const values = parsed.values as Record<string, string | boolean | undefined>
  let config: Config
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
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`arch-image: ${error.message}\n`)
    if (json)
      print(
        `${JSON.stringify(command === 'validate' ? { valid: false, error: error.message } : { error: error.message })}\n`
      )
    return EXIT.badInput
  }
  if (command === 'validate') {
    print(json ? `${JSON.stringify({ valid: true })}\n` : 'arch-image: the flags are valid\n')
    return EXIT.ok
  }

  const log = new ConsoleLog()
  for (const secret of secrets) log.setSecret(secret)
  if (config.github.token && !config.github.token.includes('${{')) log.setSecret(config.github.token)
  if (config.github.release) log.setSecret(config.github.release.token)
  const run = startRun({ config, log })
  // A signal stops the build and releases what it holds; the process then ends with 130, whether or
  // not the stages have unwound by then. Further signals (a second Ctrl-C) must not cut the release
  // short: that would leave mounts and loop devices behind.
  let cancelling: Promise<void> | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cancelling) {
      log.warning(`received ${signal} again: still releasing what the build held`)
      return
    }
    cancelling = run
      .cancel(`received ${signal}`)
      .catch(error => log.error(`releasing after ${signal}: ${(error as Error).message}`))
      .then(() => {
        log.error(`cancelled (${signal}); everything the build held was released`)
        if (json) print(`${JSON.stringify({ error: `cancelled (${signal})` })}\n`)
        process.exit(EXIT.cancelled)
      })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await run.done
  } catch (error) {
    if (cancelling) await cancelling // exits
    log.info(`\n${table([['stage', 'duration', 'result'], ...stageRows(run.ctx)])}`)
    log.error((error as Error).message)
    if (json) print(`${JSON.stringify({ error: (error as Error).message })}\n`)
    return EXIT.failed
  }
  log.info(`\n${table([['stage', 'duration', 'result'], ...stageRows(run.ctx)])}\n`)
  log.info(`${table(factRows(run.ctx))}\n`)
  const outputs = buildOutputs(run.ctx)
  if (json) print(`${JSON.stringify(outputs)}\n`)
  else for (const [name, value] of Object.entries(outputs)) log.info(`${name}=${value}`)
  return EXIT.ok
}

process.exitCode = await main(process.argv.slice(2))
