// The validators the SBOM tests use, neither written by this project: SPDX 2.3 JSON against the SPDX
// project's published schema (test/fixtures/spdx, vendored: see its README) with ajv, and CycloneDX
// with @cyclonedx/cyclonedx-library's strict JSON validator for the document's spec version.
import { Spec, Validation } from '@cyclonedx/cyclonedx-library'
import { Ajv } from 'ajv'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const SPDX_SCHEMA_FILE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/spdx/spdx-2.3-schema.json'
)

/** The sha256 of the schema as published (spdx/spdx-spec, tag v2.3, schemas/spdx-schema.json). */
export const SPDX_SCHEMA_SHA256 = '239208b7ac287b3cf5d9a9af23f9d69863971102a5e1587a27a398b43490b89b'

/** ajv's errors for an SPDX 2.3 JSON text; empty when it is valid. */
export function spdxSchemaErrors(text: string): unknown[] {
  const schema = JSON.parse(readFileSync(SPDX_SCHEMA_FILE, 'utf8')) as object
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(schema)
  return validate(JSON.parse(text)) ? [] : (validate.errors ?? [])
}

/** The CycloneDX library's verdict on a CycloneDX 1.6 JSON text: null when valid, else its errors. */
export async function cyclonedxErrors(text: string): Promise<unknown> {
  return new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)
}
