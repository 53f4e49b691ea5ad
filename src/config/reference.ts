// The README's inputs/outputs reference, generated from the INPUTS/OUTPUTS tables (npm run readme)
// between two marker comments; a unit test fails when README.md and the tables disagree.
import type { InputSpec, OutputSpec } from './inputs.js'

export const REFERENCE_START =
  '<!-- reference:start: generated from src/config/inputs.ts by `npm run readme`; edit there -->'
export const REFERENCE_END = '<!-- reference:end -->'

/** A Markdown table cell: pipes escaped, line breaks folded. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}

export function referenceMarkdown(inputs: readonly InputSpec[], outputs: readonly OutputSpec[]): string {
  return [
    REFERENCE_START,
    '',
    '### Inputs',
    '',
    '| input | default | description |',
    '| --- | --- | --- |',
    ...inputs.map(
      i => `| \`${i.name}\` | ${i.default ? `\`${cell(i.default)}\`` : ''} | ${cell(i.description)} |`
    ),
    '',
    '### Outputs',
    '',
    '| output | description |',
    '| --- | --- |',
    ...outputs.map(o => `| \`${o.name}\` | ${cell(o.description)} |`),
    '',
    REFERENCE_END
  ].join('\n')
}

/** `readme` with the text between the markers replaced by `reference`. */
export function replaceReference(readme: string, reference: string): string {
  const start = readme.indexOf(REFERENCE_START)
  const end = readme.indexOf(REFERENCE_END)
  if (start < 0 || end < start)
    throw new Error(`README.md has no ${REFERENCE_START} ... ${REFERENCE_END} block`)
  return readme.slice(0, start) + reference + readme.slice(end + REFERENCE_END.length)
}
