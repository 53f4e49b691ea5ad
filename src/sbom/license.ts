// A package's `%LICENSE%` lines as one SPDX license expression. Arch declares SPDX identifiers
// since 2023 (`GPL-2.0-or-later`, `MIT AND BSD-3-Clause`); older packages say `GPL`, `custom` or
// `custom:<name>`. A line that parses as an SPDX expression is kept as written; any other becomes a
// `LicenseRef-` of its own, which the documents define (the text says what the package declared).
import parseSpdx from 'spdx-expression-parse'

export interface DeclaredLicense {
  /** The SPDX expression, or `NOASSERTION` when the package declares none. */
  expression: string
  /** The `LicenseRef-` identifiers the expression uses, each with the declaration it stands for. */
  refs: LicenseRef[]
}

export interface LicenseRef {
  id: string
  declared: string
}

/** `LicenseRef-` plus the declaration with every run of characters SPDX refuses in an id as `-`. */
export function licenseRefId(declared: string): string {
  const idstring = declared.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '')
  return `LicenseRef-${idstring || 'unknown'}`
}

type Node = parseSpdx.Info

function licenseIds(node: Node): string[] {
  return 'license' in node ? [node.license] : [...licenseIds(node.left), ...licenseIds(node.right)]
}

/** The line's parse tree, or undefined when it is not an SPDX expression this document can carry. */
function parsed(line: string): Node | undefined {
  try {
    const tree = parseSpdx(line)
    // A DocumentRef points into another SPDX document, which this one has no reference to.
    return licenseIds(tree).some(id => id.startsWith('DocumentRef-')) ? undefined : tree
  } catch {
    return undefined
  }
}

export function declaredLicense(lines: string[]): DeclaredLicense {
  const parts: string[] = []
  const refs = new Map<string, string>()
  for (const raw of lines) {
    const line = raw.trim()
    if (!line) continue
    const tree = parsed(line)
    if (!tree) {
      const id = licenseRefId(line)
      if (!refs.has(id)) refs.set(id, line)
      parts.push(id)
      continue
    }
    for (const id of licenseIds(tree)) if (id.startsWith('LicenseRef-') && !refs.has(id)) refs.set(id, line)
    parts.push(lines.length > 1 && 'conjunction' in tree ? `(${line})` : line)
  }
  const unique = [...new Set(parts)]
  return {
    expression: unique.length === 0 ? 'NOASSERTION' : unique.join(' AND '),
    refs: [...refs].map(([id, declared]) => ({ id, declared }))
  }
}
