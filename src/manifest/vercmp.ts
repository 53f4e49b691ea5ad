// pacman's version comparison (alpm_pkg_vercmp, what `vercmp` prints): [epoch:]version[-release],
// epochs first, then versions segment by segment the rpm way, releases only when both have one.

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
const isAlnum = (c: string | undefined): boolean => isDigit(c) || isAlpha(c)

/** Compare two version strings (no epoch or release) segment by segment. */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const sepStartA = i
    const sepStartB = j
    while (i < a.length && !isAlnum(a[i])) i++
    while (j < b.length && !isAlnum(b[j])) j++
    if (i >= a.length || j >= b.length) break
    // Separators of different lengths decide ("1.0" vs "1..0").
    if (i - sepStartA !== j - sepStartB) return i - sepStartA < j - sepStartB ? -1 : 1
    const numeric = isDigit(a[i])
    const inSegment = numeric ? isDigit : isAlpha
    let endA = i
    let endB = j
    while (endA < a.length && inSegment(a[endA])) endA++
    while (endB < b.length && inSegment(b[endB])) endB++
    // b's segment is of the other kind: a number is newer than letters.
    if (endB === j) return numeric ? 1 : -1
    let segA = a.slice(i, endA)
    let segB = b.slice(j, endB)
    if (numeric) {
      segA = segA.replace(/^0+/, '')
      segB = segB.replace(/^0+/, '')
      if (segA.length !== segB.length) return segA.length > segB.length ? 1 : -1
    }
    if (segA !== segB) return segA < segB ? -1 : 1
    i = endA
    j = endB
  }
  const restA = a.slice(i)
  const restB = b.slice(j)
  if (restA === '' && restB === '') return 0
  // What is left decides: a letter segment is older than nothing ("1.0rc" < "1.0"), anything else newer.
  if ((restA === '' && !isAlpha(restB[0])) || isAlpha(restA[0])) return -1
  return 1
}

interface Evr {
  epoch: string
  version: string
  release?: string
}

function parseEvr(text: string): Evr {
  let digits = 0
  while (isDigit(text[digits])) digits++
  let epoch = '0'
  let rest = text
  if (text[digits] === ':') {
    epoch = text.slice(0, digits) || '0'
    rest = text.slice(digits + 1)
  }
  const dash = rest.lastIndexOf('-')
  return dash < 0
    ? { epoch, version: rest }
    : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) }
}

/** -1 when `a` is older than `b`, 1 when newer, 0 when pacman takes them as equal. */
export function vercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0
  const x = parseEvr(a)
  const y = parseEvr(b)
  const byEpoch = rpmvercmp(x.epoch, y.epoch)
  if (byEpoch !== 0) return byEpoch
  const byVersion = rpmvercmp(x.version, y.version)
  if (byVersion !== 0 || x.release === undefined || y.release === undefined) return byVersion
  return rpmvercmp(x.release, y.release)
}
