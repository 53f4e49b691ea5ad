// The CycloneDX 1.6 document from a pacman database written in a temp dir: valid by
// @cyclonedx/cyclonedx-library's strict JSON validator, every field the SBOM records, the same bytes
// every time.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { cyclonedxDocument } from '../../src/sbom/cyclonedx.js'
import { sbomCreated, sbomText, type SbomInput } from '../../src/sbom/document.js'
import { readPackageRecords } from '../../src/sbom/pacman-db.js'
import { SAMPLE_PACKAGES, SAMPLE_SUBJECT as SUBJECT, writePacmanDb } from '../../test/support/pacman-db.js'
import { cyclonedxErrors } from '../../test/support/sbom-validators.js'
import { tempDir } from '../../test/support/temp-dir.js'

function inputFrom(root: string): SbomInput {
  const packages = readPackageRecords(root)
  return {
    subject: SUBJECT,
    packages,
    servers: ['file:///srv/mirror/$repo/os/$arch', 'https://mirror.example/$repo/os/$arch'],
    created: sbomCreated(packages),
    toolVersion: '1.2.3'
  }
}

interface Component {
  'bom-ref': string
  name: string
  purl: string
  licenses?: { expression: string }[]
  properties: { name: string; value: string }[]
  [key: string]: unknown
}

interface Bom {
  serialNumber: string
  metadata: { timestamp: string; component: Record<string, unknown> }
  components: Component[]
  dependencies: { ref: string; dependsOn: string[] }[]
}

describe('cyclonedxDocument', () => {
  let root: string
  let text: string
  let bom: Bom

  beforeAll(() => {
    root = tempDir()
    writePacmanDb(root, SAMPLE_PACKAGES)
    text = sbomText(cyclonedxDocument(inputFrom(root)))
    bom = JSON.parse(text) as Bom
  })

  it("passes @cyclonedx/cyclonedx-library's strict JSON validator for CycloneDX 1.6", async () => {
    expect(await cyclonedxErrors(text)).toBeNull()
  })

  it('the validator can fail: a component without a name is refused', async () => {
    const broken = JSON.parse(text) as Bom
    delete (broken.components[0] as Partial<Component>).name
    expect(await cyclonedxErrors(JSON.stringify(broken))).not.toBeNull()
  })

  it('has the image file as its subject, with its sha256 and sha512 and the package servers', () => {
    expect(bom.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    )
    expect(bom.metadata.timestamp).toBe('2024-11-07T17:20:00Z')
    expect(bom.metadata.component).toEqual({
      type: 'operating-system',
      'bom-ref': 'image',
      name: 'arch-cloud-20261201',
      hashes: [
        { alg: 'SHA-256', content: SUBJECT.sha256 },
        { alg: 'SHA-512', content: SUBJECT.sha512 }
      ],
      properties: [
        { name: 'arch-image:file-name', value: 'arch-cloud-20261201.qcow2' },
        { name: 'arch-image:package-server', value: 'file:///srv/mirror/$repo/os/$arch' },
        { name: 'arch-image:package-server', value: 'https://mirror.example/$repo/os/$arch' }
      ]
    })
  })

  it('lists every package with its purl, license expression and pacman fields', () => {
    expect(bom.components.map(c => c.name)).toEqual([
      'filesystem',
      'gcc-libs',
      'glibc',
      'less',
      'libsigc++',
      'tzdata'
    ])
    expect(bom.components.find(c => c.name === 'less')).toEqual({
      type: 'library',
      'bom-ref': 'pkg:alpm/arch/less@1:668-1?arch=x86_64',
      publisher: 'Unknown Packager',
      name: 'less',
      version: '1:668-1',
      description: 'A terminal based program for viewing text files',
      licenses: [{ expression: '(GPL-3.0-or-later OR BSD-2-Clause) AND LicenseRef-custom-less' }],
      purl: 'pkg:alpm/arch/less@1:668-1?arch=x86_64',
      externalReferences: [{ type: 'website', url: 'https://www.greenwoodsoftware.com/less/' }],
      properties: [
        { name: 'arch-image:pacman:arch', value: 'x86_64' },
        { name: 'arch-image:pacman:base', value: 'less' },
        { name: 'arch-image:pacman:builddate', value: '1728000000' },
        { name: 'arch-image:pacman:packager', value: 'Unknown Packager' },
        { name: 'arch-image:pacman:size', value: '280000' },
        { name: 'arch-image:pacman:license', value: 'GPL-3.0-or-later OR BSD-2-Clause' },
        { name: 'arch-image:pacman:license', value: 'custom:less' }
      ]
    })
    expect(bom.components.find(c => c.name === 'filesystem')?.licenses).toBeUndefined()
  })

  it('holds the dependency graph: the image on every package, each package on what it depends on', () => {
    expect(bom.dependencies[0]).toEqual({ ref: 'image', dependsOn: bom.components.map(c => c['bom-ref']) })
    expect(bom.dependencies.find(d => d.ref.startsWith('pkg:alpm/arch/libsigc%2B%2B@'))?.dependsOn).toEqual([
      'pkg:alpm/arch/gcc-libs@14.2.1%2Br134%2Bgab884fffe3fc-1?arch=x86_64&upstream=gcc',
      'pkg:alpm/arch/glibc@2.40%2Br16%2Bgaa533d58ff-2?arch=x86_64'
    ])
  })

  it('gives the same bytes for the same packages and image', () => {
    expect(sbomText(cyclonedxDocument(inputFrom(root)))).toBe(text)
  })
})
