// Runs the stages in order: each in a log group, timed, and recorded for the job summary.
import type { Context, StageRecord } from './context.js'

export interface Stage {
  name: string
  /** When false for this run the stage is recorded as skipped. */
  enabled?(ctx: Context): boolean
  /** The stage opens log groups of its own (GitHub's log has no nested groups). */
  ownGroups?: boolean
  run(ctx: Context): Promise<void>
}

export class StageError extends Error {
  constructor(
    readonly stage: string,
    override readonly cause: unknown
  ) {
    super(`stage "${stage}" failed: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'StageError'
  }
}

export async function runStages(stages: Stage[], ctx: Context): Promise<StageRecord[]> {
  const records: StageRecord[] = stages.map(stage => ({ name: stage.name, seconds: 0, result: 'not run' }))
  ctx.records = records
  for (const [index, stage] of stages.entries()) {
    const record = records[index] as StageRecord
    if (stage.enabled && !stage.enabled(ctx)) {
      record.result = 'skipped'
      continue
    }
    const started = performance.now()
    if (stage.ownGroups) ctx.log.info(`== ${stage.name}`)
    else ctx.log.startGroup(stage.name)
    try {
      if (ctx.cancelled) throw new Error('the run was cancelled')
      await stage.run(ctx)
      record.result = 'ok'
    } catch (error) {
      record.result = 'failed'
      throw error instanceof StageError ? error : new StageError(stage.name, error)
    } finally {
      record.seconds = (performance.now() - started) / 1000
      ctx.log.info(`${stage.name}: ${record.result} in ${record.seconds.toFixed(1)} s`)
      if (!stage.ownGroups) ctx.log.endGroup()
    }
  }
  return records
}
