// The GitHub Action: main builds the image; post releases whatever a killed or cancelled main left.
import * as core from '@actions/core'
import { buildConfig, ConfigError, glanceTargetsFromInputs, type ConfigEnv } from './config/config.js'
import { SECRET_INPUTS } from './config/inputs.js'
import { pullRequestFromEvent } from './github/event.js'
import type { CacheState, Context } from './pipeline/context.js'
import { ProcessExec, type Exec } from './pipeline/exec.js'
import { ActionsLog } from './pipeline/log.js'
import { diffMarkdown } from './manifest/diff.js'
import {
  bootTestHtml,
  bootTestOutputs,
  diffoscopeHtml,
  buildOutputs,
  reproducibleOutput,
  deletedMarkdown,
  factRows,
  stageRows
} from './pipeline/report.js'
import { releaseResource, type ImageDeleter, type Resource } from './pipeline/teardown.js'
import { deleteUnsettledImage, deleteWithStoredToken } from './openstack/publish.js'
import { savePackageCacheFromState } from './stages/cache.js'
import { invokingOwner } from './pipeline/owner.js'
import { escapeHtml } from './util/html.js'
import { startRun } from './stages/index.js'

const TEARDOWN_STATE = 'teardown'
const CACHE_STATE = 'package-cache'

async function writeSummary(ctx: Context, error?: unknown): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const header = ['stage', 'duration', 'result'].map(data => ({ data, header: true }))
  const title =
    ctx.config.mode === 'cleanup'
      ? `cleanup of pull request #${ctx.config.github.cleanup?.pr}`
      : ctx.imageName || ctx.config.image.family
  core.summary.addHeading(`arch-image: ${title}`, 2)
  if (error)
    core.summary.addRaw(`<p><b>Failed:</b> ${escapeHtml(String((error as Error).message ?? error))}</p>`)
  core.summary.addTable([header, ...stageRows(ctx)])
  if (ctx.config.mode === 'cleanup') core.summary.addRaw(deletedMarkdown(ctx), true)
  else core.summary.addTable(factRows(ctx))
  if (ctx.packageDiff) {
    core.summary.addHeading('Package changes', 3)
    core.summary.addRaw(`\n${diffMarkdown(ctx.packageDiff.diff, ctx.packageDiff.against)}\n`, true)
  }
  if (ctx.bootTest) core.summary.addRaw(bootTestHtml(ctx), true)
  if (ctx.diffoscope) core.summary.addRaw(diffoscopeHtml(ctx), true)
  await core.summary.write()
}

function configEnv(): ConfigEnv {
  return {
    cwd: process.env.GITHUB_WORKSPACE || process.cwd(),
    runnerTemp: process.env.RUNNER_TEMP,
    pullRequest: pullRequestFromEvent(),
    environment: process.env,
    mask: secret => core.setSecret(secret)
  }
}

function readInput(name: string): string {
  const value = core.getInput(name)
  if (SECRET_INPUTS.has(name) && value) core.setSecret(value)
  return value
}

export async function runMain(): Promise<void> {
  const log = new ActionsLog()
  let config
  try {
    config = buildConfig(readInput, configEnv())
  } catch (error) {
    core.setFailed(error instanceof ConfigError ? error.message : String(error))
    return
  }

  const run = startRun({
    config,
    log,
    tempRoot: process.env.RUNNER_TEMP || undefined,
    persist: resources => core.saveState(TEARDOWN_STATE, JSON.stringify(resources)),
    persistCache: state => core.saveState(CACHE_STATE, JSON.stringify(state))
  })
  const onSignal = (signal: NodeJS.Signals): void => {
    void run.cancel(`received ${signal}`).finally(() => {
      core.setFailed(`cancelled (${signal}); everything the build held was released`)
      process.exit(1)
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    await run.done
    for (const [name, value] of Object.entries(buildOutputs(run.ctx))) core.setOutput(name, value)
    await writeSummary(run.ctx)
  } catch (error) {
    if (run.ctx.bootTest)
      for (const [name, value] of Object.entries(bootTestOutputs(run.ctx))) core.setOutput(name, value)
    if (run.ctx.reproducible !== undefined)
      for (const [name, value] of Object.entries(reproducibleOutput(run.ctx))) core.setOutput(name, value)
    await writeSummary(run.ctx, error).catch(() => {})
    core.setFailed((error as Error).message ?? String(error))
  }
}

/**
 * The post step deletes a Glance image a killed main left with what main stored (endpoint, TLS, its
 * token): the inputs, and the files they name, may be gone by now. Only when Glance refuses that
 * token does it authenticate again, from the Glance inputs alone.
 */
function postImageDeleter(log: ActionsLog): ImageDeleter {
  return async image => {
    if (image.glance) {
      if ((await deleteWithStoredToken(image.glance, image, log)) === 'deleted') return
      log.info(
        `post: Glance refused the token the main step stored (expired or revoked); authenticating again with the Glance inputs to delete image ${image.imageId}`
      )
    }
    const targets = glanceTargetsFromInputs(readInput, configEnv())
    // the image's own target (several clouds or regions), else the only one
    const settings = (targets.find(target => target.label === image.target) ?? targets[0])?.settings
    if (!settings)
      throw new Error(`no OpenStack credentials in the post step to delete image ${image.imageId}`)
    if (!(await deleteUnsettledImage(settings, image, log))) {
      throw new Error(`could not delete the unfinished Glance image ${image.imageId}`)
    }
  }
}

/** Tokens in the saved state: masked in this process's log too before anything is released. */
function maskStoredTokens(log: ActionsLog, resources: Resource[]): void {
  for (const resource of resources) {
    if (resource.kind === 'keystone-tokens') for (const token of resource.tokens) log.setSecret(token)
    if (resource.kind === 'glance-image' && resource.glance) log.setSecret(resource.glance.token)
  }
}

async function releaseLeftovers(log: ActionsLog, exec: Exec): Promise<string[]> {
  const saved = core.getState(TEARDOWN_STATE)
  if (!saved) return []
  let resources: Resource[]
  try {
    resources = JSON.parse(saved) as Resource[]
  } catch {
    core.warning('post: the saved teardown state is not JSON; nothing released')
    return []
  }
  maskStoredTokens(log, resources)
  if (resources.length === 0) {
    log.info('post: nothing left to release')
    return []
  }
  log.info(`post: releasing ${resources.length} resource(s) the main step left`)
  const failures: string[] = []
  for (const resource of [...resources].reverse()) {
    try {
      await releaseResource(
        resource,
        exec,
        log,
        resource.kind === 'glance-image' ? postImageDeleter(log) : undefined
      )
    } catch (error) {
      failures.push((error as Error).message)
      log.warning((error as Error).message)
    }
  }
  return failures
}

async function savePackageCacheInPost(log: ActionsLog, exec: Exec): Promise<void> {
  const saved = core.getState(CACHE_STATE)
  if (!saved) return
  try {
    const state = JSON.parse(saved) as CacheState
    // pacstrap wrote the cache as root; a build that failed before handover did not hand it back.
    // Only a directory arch-image created is handed over (see src/cache/cache-dir.ts).
    const owner = invokingOwner()
    if (owner && state.installed?.length && state.ours === true) {
      await exec.run(['chown', '-R', `${owner.uid}:${owner.gid}`, state.dir], {
        privileged: true,
        quiet: true
      })
    }
    await savePackageCacheFromState(state, log)
  } catch (error) {
    log.warning(`package cache not saved: ${(error as Error).message}`)
  }
}

export async function runPost(): Promise<void> {
  const log = new ActionsLog()
  const exec = new ProcessExec(log)
  const failures = await releaseLeftovers(log, exec)
  await savePackageCacheInPost(log, exec)
  if (failures.length > 0) core.setFailed(`post: could not release everything:\n${failures.join('\n')}`)
}
