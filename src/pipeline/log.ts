// How the pipeline talks to its user: GitHub's workflow commands in Actions, plain lines in a terminal.
import * as core from '@actions/core'

export interface Log {
  info(message: string): void
  warning(message: string): void
  error(message: string): void
  startGroup(name: string): void
  endGroup(): void
  /** Hide a value from every later line (and, in Actions, from the runner's log). */
  setSecret(value: string): void
}

abstract class MaskingLog implements Log {
  private secrets: string[] = []

  setSecret(value: string): void {
    if (value) this.secrets.push(value)
  }

  protected mask(message: string): string {
    let text = message
    for (const secret of this.secrets) text = text.split(secret).join('***')
    return text
  }

  abstract info(message: string): void
  abstract warning(message: string): void
  abstract error(message: string): void
  abstract startGroup(name: string): void
  abstract endGroup(): void
}

export class ActionsLog extends MaskingLog {
  override setSecret(value: string): void {
    super.setSecret(value)
    if (value) core.setSecret(value)
  }
  info(message: string): void {
    core.info(this.mask(message))
  }
  warning(message: string): void {
    core.warning(this.mask(message))
  }
  error(message: string): void {
    core.error(this.mask(message))
  }
  startGroup(name: string): void {
    core.startGroup(this.mask(name))
  }
  endGroup(): void {
    core.endGroup()
  }
}

export class ConsoleLog extends MaskingLog {
  info(message: string): void {
    process.stdout.write(`${this.mask(message)}\n`)
  }
  warning(message: string): void {
    process.stderr.write(`warning: ${this.mask(message)}\n`)
  }
  error(message: string): void {
    process.stderr.write(`error: ${this.mask(message)}\n`)
  }
  startGroup(name: string): void {
    process.stdout.write(`==> ${this.mask(name)}\n`)
  }
  endGroup(): void {}
}
