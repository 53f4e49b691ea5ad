// The SBOM as an SPDX 2.3 JSON document: the image file is the described package (with its sha256
// and sha512), it CONTAINS every installed package, and each package DEPENDS_ON what its
// `%DEPENDS%` resolve to. Licenses that are no SPDX expression are defined as extracted licenses.
import { declaredLicense, type LicenseRef } from './license.js'
import {
  documentUuid,
  isoSeconds,
  publicServer,
  resolvedDepends,
  TOOL_NAME,
  type SbomInput
} from './document.js'
import type { PackageRecord } from './pacman-db.js'
import { alpmPurl } from './purl.js'

const IMAGE_ID = 'SPDXRef-Image'

/** An SPDX id per package name: `SPDXRef-Package-<name>`, characters SPDX refuses as `-`, unique. */
function packageIds(packages: PackageRecord[]): Map<string, string> {
  const ids = new Map<string, string>()
  const taken = new Set<string>([IMAGE_ID])
  for (const { name } of packages) {
    const base = `SPDXRef-Package-${name.replace(/[^A-Za-z0-9.-]/g, '-')}`
    let id = base
    for (let n = 2; taken.has(id); n++) id = `${base}-${n}`
    taken.add(id)
    ids.set(name, id)
  }
  return ids
}

/** `Name <mail>` as SPDX's `Person: Name (mail)`. */
export function spdxPerson(packager: string | undefined): string {
  if (!packager) return 'NOASSERTION'
  const match = /^(.*?)\s*<([^>]*)>$/.exec(packager)
  return match ? `Person: ${match[1]} (${match[2]})` : `Person: ${packager}`
}

function sourceText(input: SbomInput): string {
  const servers = input.servers.map(publicServer).join(', ')
  const snapshot = input.snapshot ? `the Arch Linux Archive snapshot ${input.snapshot} ` : ''
  return `built by ${TOOL_NAME}; packages installed by pacman from ${snapshot}(${servers})`
}

export function spdxDocument(input: SbomInput): object {
  const { subject } = input
  const ids = packageIds(input.packages)
  const depends = resolvedDepends(input.packages)
  const refs = new Map<string, LicenseRef>()

  const packages = input.packages.map(record => {
    const license = declaredLicense(record.licenses)
    for (const ref of license.refs) if (!refs.has(ref.id)) refs.set(ref.id, ref)
    const notes = [`pacman package, architecture ${record.arch}`]
    if (record.base) notes.push(`base ${record.base}`)
    if (record.installedSize !== undefined) notes.push(`installed size ${record.installedSize} bytes`)
    return {
      SPDXID: ids.get(record.name),
      name: record.name,
      versionInfo: record.version,
      supplier: spdxPerson(record.packager),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      ...(record.url ? { homepage: record.url } : {}),
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: license.expression,
      copyrightText: 'NOASSERTION',
      ...(record.description ? { description: record.description } : {}),
      comment: notes.join('; '),
      ...(record.buildDate !== undefined ? { builtDate: isoSeconds(record.buildDate) } : {}),
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: alpmPurl(record) }
      ]
    }
  })

  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE_ID },
    ...input.packages.map(record => ({
      spdxElementId: IMAGE_ID,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: ids.get(record.name)
    })),
    ...input.packages.flatMap(record =>
      (depends.get(record.name) ?? []).map(dependency => ({
        spdxElementId: ids.get(record.name),
        relationshipType: 'DEPENDS_ON',
        relatedSpdxElement: ids.get(dependency)
      }))
    )
  ]

  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subject.imageName,
    documentNamespace: `https://spdx.org/spdxdocs/${TOOL_NAME}/${subject.imageName}-${documentUuid('spdx', subject)}`,
    creationInfo: {
      created: input.created,
      creators: [`Tool: ${TOOL_NAME}-${input.toolVersion}`],
      comment: sourceText(input)
    },
    packages: [
      {
        SPDXID: IMAGE_ID,
        name: subject.imageName,
        packageFileName: subject.fileName,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        checksums: [
          { algorithm: 'SHA256', checksumValue: subject.sha256 },
          { algorithm: 'SHA512', checksumValue: subject.sha512 }
        ],
        licenseConcluded: 'NOASSERTION',
        licenseDeclared: 'NOASSERTION',
        copyrightText: 'NOASSERTION',
        sourceInfo: sourceText(input),
        primaryPackagePurpose: 'OPERATING_SYSTEM'
      },
      ...packages
    ],
    relationships,
    ...(refs.size > 0
      ? {
          hasExtractedLicensingInfos: [...refs.values()]
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .map(ref => ({
              licenseId: ref.id,
              name: ref.declared,
              extractedText: `The package declares the license "${ref.declared}" (pacman %LICENSE%), which is no SPDX license expression.`
            }))
        }
      : {})
  }
}
