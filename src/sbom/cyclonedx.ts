// The SBOM as a CycloneDX 1.6 JSON document: the image file is the BOM's subject (metadata.component,
// with its sha256 and sha512), every installed package a component identified by its purl, and the
// dependency graph from `%DEPENDS%`. pacman fields CycloneDX has no place for are `arch-image:pacman:*`
// properties.
import { declaredLicense } from './license.js'
import { documentUuid, publicServer, resolvedDepends, TOOL_NAME, type SbomInput } from './document.js'
import type { PackageRecord } from './pacman-db.js'
import { alpmPurl } from './purl.js'

const IMAGE_REF = 'image'

function pacmanProperties(record: PackageRecord): { name: string; value: string }[] {
  const properties: [string, string | number | undefined][] = [
    ['arch', record.arch],
    ['base', record.base],
    ['builddate', record.buildDate],
    ['packager', record.packager],
    ['size', record.installedSize],
    ...record.licenses.map((license): [string, string] => ['license', license])
  ]
  return properties
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([name, value]) => ({ name: `arch-image:pacman:${name}`, value: String(value) }))
}

export function cyclonedxDocument(input: SbomInput): object {
  const { subject } = input
  const refs = new Map(input.packages.map(record => [record.name, alpmPurl(record)]))
  const depends = resolvedDepends(input.packages)

  const components = input.packages.map(record => {
    const license = declaredLicense(record.licenses)
    return {
      type: 'library',
      'bom-ref': refs.get(record.name),
      ...(record.packager ? { publisher: record.packager } : {}),
      name: record.name,
      version: record.version,
      ...(record.description ? { description: record.description } : {}),
      ...(license.expression !== 'NOASSERTION' ? { licenses: [{ expression: license.expression }] } : {}),
      purl: refs.get(record.name),
      ...(record.url ? { externalReferences: [{ type: 'website', url: record.url }] } : {}),
      properties: pacmanProperties(record)
    }
  })

  const sources = [
    ...input.servers.map(server => ({ name: 'arch-image:package-server', value: publicServer(server) })),
    ...(input.snapshot ? [{ name: 'arch-image:snapshot', value: input.snapshot }] : [])
  ]

  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${documentUuid('cyclonedx', subject)}`,
    version: 1,
    metadata: {
      timestamp: input.created,
      tools: { components: [{ type: 'application', name: TOOL_NAME, version: input.toolVersion }] },
      component: {
        type: 'operating-system',
        'bom-ref': IMAGE_REF,
        name: subject.imageName,
        hashes: [
          { alg: 'SHA-256', content: subject.sha256 },
          { alg: 'SHA-512', content: subject.sha512 }
        ],
        properties: [{ name: 'arch-image:file-name', value: subject.fileName }, ...sources]
      }
    },
    components,
    dependencies: [
      { ref: IMAGE_REF, dependsOn: input.packages.map(record => refs.get(record.name)) },
      ...input.packages.map(record => ({
        ref: refs.get(record.name),
        dependsOn: (depends.get(record.name) ?? []).map(name => refs.get(name))
      }))
    ]
  }
}
