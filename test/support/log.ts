import type { Log } from '../../src/pipeline/log.js'

/** A Log that keeps its (masked) lines for assertions. */
export class MemoryLog implements Log {
  lines: string[] = []
  private secrets: string[] = []
  info(m: string) {
    this.lines.push(this.mask(m))
  }
  warning(m: string) {
    this.lines.push(`warning: ${this.mask(m)}`)
  }
  error(m: string) {
    this.lines.push(`error: ${this.mask(m)}`)
  }
  startGroup(m: string) {
    this.lines.push(`group: ${m}`)
  }
  endGroup() {}
  setSecret(s: string) {
    this.secrets.push(s)
  }
  private mask(m: string) {
    return this.secrets.reduce((text, s) => text.split(s).join('***'), m)
  }
}
