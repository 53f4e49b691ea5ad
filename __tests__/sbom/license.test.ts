// `%LICENSE%` lines as one SPDX expression: SPDX expressions kept (parsed by spdx-expression-parse),
// everything else a LicenseRef of its own.
import { describe, expect, it } from '@jest/globals'
import { declaredLicense, licenseRefId } from '../../src/sbom/license.js'

describe('declaredLicense', () => {
  it('keeps SPDX identifiers and expressions as written, joined with AND', () => {
    expect(declaredLicense(['MIT'])).toEqual({ expression: 'MIT', refs: [] })
    expect(declaredLicense(['GPL-3.0-or-later WITH GCC-exception-3.1'])).toEqual({
      expression: 'GPL-3.0-or-later WITH GCC-exception-3.1',
      refs: []
    })
    expect(declaredLicense(['GPL-2.0-or-later', 'LGPL-2.1-or-later']).expression).toBe(
      'GPL-2.0-or-later AND LGPL-2.1-or-later'
    )
    // A compound line among others keeps its meaning in parentheses.
    expect(declaredLicense(['MIT OR Apache-2.0', 'Unicode-3.0']).expression).toBe(
      '(MIT OR Apache-2.0) AND Unicode-3.0'
    )
    expect(declaredLicense(['MIT', 'MIT']).expression).toBe('MIT')
  })

  it("turns what is no SPDX expression into a LicenseRef that keeps the package's words", () => {
    expect(declaredLicense(['custom:Debian'])).toEqual({
      expression: 'LicenseRef-custom-Debian',
      refs: [{ id: 'LicenseRef-custom-Debian', declared: 'custom:Debian' }]
    })
    expect(declaredLicense(['GPL', 'custom']).expression).toBe('LicenseRef-GPL AND LicenseRef-custom')
    expect(declaredLicense(['custom: public domain']).expression).toBe('LicenseRef-custom-public-domain')
    // A DocumentRef points into a document this one does not reference.
    expect(declaredLicense(['DocumentRef-x:LicenseRef-y']).expression).toBe(
      'LicenseRef-DocumentRef-x-LicenseRef-y'
    )
  })

  it('lists the LicenseRefs a package declares itself, so the document can define them', () => {
    expect(declaredLicense(['LicenseRef-Public-Domain', 'MIT'])).toEqual({
      expression: 'LicenseRef-Public-Domain AND MIT',
      refs: [{ id: 'LicenseRef-Public-Domain', declared: 'LicenseRef-Public-Domain' }]
    })
  })

  it('says NOASSERTION when the package declares no license', () => {
    expect(declaredLicense([])).toEqual({ expression: 'NOASSERTION', refs: [] })
    expect(declaredLicense(['  '])).toEqual({ expression: 'NOASSERTION', refs: [] })
  })
})

describe('licenseRefId', () => {
  it('keeps only the characters SPDX allows in an id', () => {
    expect(licenseRefId('custom:Foo Bar+Baz_1.0')).toBe('LicenseRef-custom-Foo-Bar-Baz-1.0')
    expect(licenseRefId(':::')).toBe('LicenseRef-unknown')
  })
})
