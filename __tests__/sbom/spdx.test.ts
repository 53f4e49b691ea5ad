// The SPDX 2.3 document from a pacman database written in a temp dir: valid against the SPDX
// project's published schema (ajv), every field the SBOM records, and the same bytes every time.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { sbomCreated, sbomText, type SbomInput } from '../../src/sbom/document.js'
import { readPackageRecords } from '../../src/sbom/pacman-db.js'
import { spdxDocument, spdxPerson } from '../../src/sbom/spdx.js'
import { SAMPLE_PACKAGES, SAMPLE_SUBJECT as SUBJECT, writePacmanDb } from '../../test/support/pacman-db.js'
import { SPDX_SCHEMA_FILE, SPDX_SCHEMA_SHA256, spdxSchemaErrors } from '../../test/support/sbom-validators.js'
import { tempDir } from '../../test/support/temp-dir.js'

function inputFrom(root: string): SbomInput {
  const packages = readPackageRecords(root)
  return {
    subject: SUBJECT,
    packages,
    servers: ['https://user:secret@archive.example/repos/2026/12/01/$repo/os/$arch'],
    snapshot: '2026/12/01',
    created: sbomCreated(packages, '2026/12/01'),
    toolVersion: '1.2.3'
  }
}

interface SpdxPackage {
  SPDXID: string
  name: string
  versionInfo?: string
  licenseDeclared: string
  externalRefs?: { referenceLocator: string }[]
  [key: string]: unknown
}

interface SpdxDoc {
  documentNamespace: string
  creationInfo: { created: string; creators: string[]; comment: string }
  packages: SpdxPackage[]
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[]
  hasExtractedLicensingInfos: { licenseId: string; name: string; extractedText: string }[]
}

describe('spdxDocument', () => {
  let root: string
  let text: string
  let doc: SpdxDoc

  beforeAll(() => {
    root = tempDir()
    writePacmanDb(root, SAMPLE_PACKAGES)
    text = sbomText(spdxDocument(inputFrom(root)))
    doc = JSON.parse(text) as SpdxDoc
  })

  it('is valid against the published SPDX 2.3 JSON schema (the vendored copy is the published file)', () => {
    expect(createHash('sha256').update(readFileSync(SPDX_SCHEMA_FILE)).digest('hex')).toBe(SPDX_SCHEMA_SHA256)
    const schema = JSON.parse(readFileSync(SPDX_SCHEMA_FILE, 'utf8')) as { $id: string; title: string }
    expect([schema.$id, schema.title]).toEqual(['http://spdx.org/rdf/terms/2.3', 'SPDX 2.3'])
    expect(spdxSchemaErrors(text)).toEqual([])
  })

  it('the schema check can fail: a package without its required fields is refused', () => {
    const broken = JSON.parse(text) as SpdxDoc
    delete (broken.packages[1] as Partial<SpdxPackage>).SPDXID
    expect(spdxSchemaErrors(JSON.stringify(broken))).not.toEqual([])
  })

  it('describes the image file with its sha256 and sha512, and says where the packages came from', () => {
    expect(doc.packages[0]).toEqual({
      SPDXID: 'SPDXRef-Image',
      name: 'arch-cloud-20261201',
      packageFileName: 'arch-cloud-20261201.qcow2',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      checksums: [
        { algorithm: 'SHA256', checksumValue: SUBJECT.sha256 },
        { algorithm: 'SHA512', checksumValue: SUBJECT.sha512 }
      ],
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      sourceInfo:
        'built by arch-image; packages installed by pacman from the Arch Linux Archive snapshot 2026/12/01 (https://archive.example/repos/2026/12/01/$repo/os/$arch)',
      primaryPackagePurpose: 'OPERATING_SYSTEM'
    })
    expect(text).not.toContain('secret')
    expect(doc.relationships[0]).toEqual({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: 'SPDXRef-Image'
    })
    // Created at the newest package's build date (gcc-libs), not now.
    expect(doc.creationInfo.created).toBe('2024-11-07T17:20:00Z')
    expect(doc.creationInfo.creators).toEqual(['Tool: arch-image-1.2.3'])
    expect(doc.documentNamespace).toMatch(
      /^https:\/\/spdx\.org\/spdxdocs\/arch-image\/arch-cloud-20261201-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    )
  })

  it('records every installed package with its pacman fields and purl', () => {
    expect(doc.packages.slice(1).map(p => p.name)).toEqual([
      'filesystem',
      'gcc-libs',
      'glibc',
      'less',
      'libsigc++',
      'tzdata'
    ])
    expect(doc.packages.find(p => p.name === 'gcc-libs')).toEqual({
      SPDXID: 'SPDXRef-Package-gcc-libs',
      name: 'gcc-libs',
      versionInfo: '14.2.1+r134+gab884fffe3fc-1',
      supplier: 'Person: Frederik Schwan (freswa@archlinux.org)',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      homepage: 'https://gcc.gnu.org',
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'GPL-3.0-or-later WITH GCC-exception-3.1',
      copyrightText: 'NOASSERTION',
      description: 'Runtime libraries shipped by GCC',
      comment: 'pacman package, architecture x86_64; base gcc; installed size 143251632 bytes',
      builtDate: '2024-11-07T17:20:00Z',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: 'pkg:alpm/arch/gcc-libs@14.2.1%2Br134%2Bgab884fffe3fc-1?arch=x86_64&upstream=gcc'
        }
      ]
    })
    const sigc = doc.packages.find(p => p.name === 'libsigc++')
    expect(sigc?.SPDXID).toBe('SPDXRef-Package-libsigc--')
    expect(sigc?.externalRefs?.[0]?.referenceLocator).toBe('pkg:alpm/arch/libsigc%2B%2B@2.12.1-2?arch=x86_64')
    expect(doc.packages.find(p => p.name === 'filesystem')?.licenseDeclared).toBe('NOASSERTION')
    expect(doc.packages.find(p => p.name === 'filesystem')?.supplier).toBe(
      'Person: David Runge (dvzrv@archlinux.org)'
    )
    expect(doc.packages.find(p => p.name === 'tzdata')?.supplier).toBe('NOASSERTION')
  })

  it('defines every LicenseRef a package uses', () => {
    expect(doc.packages.find(p => p.name === 'less')?.licenseDeclared).toBe(
      '(GPL-3.0-or-later OR BSD-2-Clause) AND LicenseRef-custom-less'
    )
    expect(doc.packages.find(p => p.name === 'tzdata')?.licenseDeclared).toBe(
      'LicenseRef-Public-Domain AND LicenseRef-GPL'
    )
    expect(doc.hasExtractedLicensingInfos.map(info => [info.licenseId, info.name])).toEqual([
      ['LicenseRef-GPL', 'GPL'],
      ['LicenseRef-Public-Domain', 'LicenseRef-Public-Domain'],
      ['LicenseRef-custom-less', 'custom:less']
    ])
    const used = new Set(
      doc.packages.flatMap(p => p.licenseDeclared.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? [])
    )
    expect([...used].sort()).toEqual(doc.hasExtractedLicensingInfos.map(info => info.licenseId))
  })

  it('relates the image to each package it contains, and each package to what it depends on', () => {
    const of = (type: string) =>
      doc.relationships
        .filter(r => r.relationshipType === type)
        .map(r => `${r.spdxElementId} ${r.relatedSpdxElement}`)
    expect(of('CONTAINS')).toHaveLength(SAMPLE_PACKAGES.length)
    // By name (glibc>=2.27), and by provides (libgcc_s.so, libstdc++.so → gcc-libs); unknown ones
    // (linux-api-headers, ncurses, pcre2: not installed here) are left out.
    expect(of('DEPENDS_ON')).toEqual([
      'SPDXRef-Package-gcc-libs SPDXRef-Package-glibc',
      'SPDXRef-Package-glibc SPDXRef-Package-filesystem',
      'SPDXRef-Package-glibc SPDXRef-Package-tzdata',
      'SPDXRef-Package-less SPDXRef-Package-glibc',
      'SPDXRef-Package-libsigc-- SPDXRef-Package-gcc-libs',
      'SPDXRef-Package-libsigc-- SPDXRef-Package-glibc'
    ])
  })

  it('gives the same bytes for the same packages and image, and another namespace for another image', () => {
    expect(sbomText(spdxDocument(inputFrom(root)))).toBe(text)
    const other = { ...inputFrom(root), subject: { ...SUBJECT, sha256: 'c'.repeat(64) } }
    expect((spdxDocument(other) as SpdxDoc).documentNamespace).not.toBe(doc.documentNamespace)
  })
})

describe('spdxPerson', () => {
  it("writes a packager as SPDX's Person", () => {
    expect(spdxPerson('Jan Alexander Steffens (heftig) <heftig@archlinux.org>')).toBe(
      'Person: Jan Alexander Steffens (heftig) (heftig@archlinux.org)'
    )
    expect(spdxPerson('Unknown Packager')).toBe('Person: Unknown Packager')
    expect(spdxPerson(undefined)).toBe('NOASSERTION')
  })
})
