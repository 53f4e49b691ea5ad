// The config a test builds: the inputs it names (misspelt names do not compile), every other input at
// its default, and the run's environment; or the problems such inputs are refused with.
import {
  buildConfig,
  ConfigError,
  type Config,
  type ConfigEnv,
  type InputName
} from '../../src/config/config.js'

export type Inputs = Partial<Record<InputName, string>>

/** The config of `inputs` in `env` (cwd `/work/repo` unless given). */
export function config(inputs: Inputs = {}, env: Partial<ConfigEnv> = {}): Config {
  return buildConfig(name => inputs[name] ?? '', { cwd: '/work/repo', ...env })
}

/** The problems `inputs` are refused with, all of them; fails the test when they are accepted. */
export function problemsOf(inputs: Inputs = {}, env: Partial<ConfigEnv> = {}): string[] {
  try {
    config(inputs, env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error(`accepted ${JSON.stringify(inputs)}`)
}
