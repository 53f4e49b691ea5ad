// Package URLs of Arch packages: `pkg:alpm/arch/<name>@<version>?arch=<arch>[&upstream=<base>]`, as
// syft's alpm cataloger writes them. Encoded per the purl spec: name, version and qualifier values
// percent-encoded (`+` is `%2B`), `:` left as it is (an epoch, `1:2.3-1`), qualifiers sorted by key.
import type { PackageRecord } from './pacman-db.js'

function encode(segment: string): string {
  return encodeURIComponent(segment).replaceAll('%3A', ':')
}

export function alpmPurl(record: Pick<PackageRecord, 'name' | 'version' | 'arch' | 'base'>): string {
  const qualifiers: [string, string][] = [['arch', record.arch]]
  if (record.base && record.base !== record.name) qualifiers.push(['upstream', record.base])
  qualifiers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const query = qualifiers.map(([key, value]) => `${key}=${encode(value)}`).join('&')
  return `pkg:alpm/arch/${encode(record.name)}@${encode(record.version)}?${query}`
}
