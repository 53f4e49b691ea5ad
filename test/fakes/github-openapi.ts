// GitHub's published OpenAPI description (@octokit/openapi, api.github.com.json, loaded once per process)
// and just enough of a validator for the fake GitHub: find the operation for a method + path, check path
// and query parameters and JSON bodies against it, and check the fake's own responses.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface Schema {
  $ref?: string
  type?: string
  format?: string
  nullable?: boolean
  enum?: Json[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  oneOf?: Schema[]
  anyOf?: Schema[]
  allOf?: Schema[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  minItems?: number
  maxItems?: number
}

interface Parameter {
  $ref?: string
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: Schema
  'x-multi-segment'?: boolean
}

interface Operation {
  operationId: string
  parameters?: Parameter[]
  servers?: { url: string }[]
  requestBody?: { $ref?: string; required?: boolean; content: Record<string, { schema?: Schema }> }
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: Schema }> }>
  externalDocs?: { url: string }
}

interface Document {
  info: { version: string }
  paths: Record<string, Record<string, Operation>>
  components: Record<string, Record<string, unknown>>
}

/** Which host serves an operation: uploads.github.com for the ones whose `servers` say so. */
export type Host = 'api' | 'uploads'

export interface Route {
  method: string
  template: string
  operation: Operation
  host: Host
  /** Path parameter values, percent-decoded. */
  params: Record<string, string>
}

interface CompiledPath {
  template: string
  pattern: RegExp
  names: string[]
  literals: number
}

let loaded: OpenApi | undefined

export class OpenApi {
  private readonly compiled: CompiledPath[]

  private constructor(readonly document: Document) {
    this.compiled = Object.keys(document.paths)
      .map(template => {
        const names: string[] = []
        let literals = 0
        const operations = Object.values(document.paths[template] ?? {})
        const multi = new Set(
          operations.flatMap(op =>
            (op.parameters ?? [])
              .map(p => this.param(p))
              .filter(p => p['x-multi-segment'])
              .map(p => p.name)
          )
        )
        const source = template
          .split('/')
          .map(segment => {
            const match = /^\{(.+)\}$/.exec(segment)
            if (!match) {
              literals++
              return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
            }
            names.push(match[1] as string)
            return multi.has(match[1] as string) ? '(.+)' : '([^/]+)'
          })
          .join('/')
        return { template, pattern: new RegExp(`^${source}$`), names, literals }
      })
      // /releases/tags/{tag} before /releases/{release_id}/…: the more literal segments, the better.
      .sort((a, b) => b.literals - a.literals)
  }

  /** The description, parsed once per process (13 MB; the whole package is ~385 MB). */
  static load(): OpenApi {
    if (!loaded) {
      const require = createRequire(import.meta.url)
      const file = require.resolve('@octokit/openapi/generated/api.github.com.json')
      loaded = new OpenApi(JSON.parse(readFileSync(file, 'utf8')) as Document)
    }
    return loaded
  }

  get version(): string {
    return this.document.info.version
  }

  resolve<T>(value: T & { $ref?: string }): T {
    let current: unknown = value
    while (current && typeof current === 'object' && '$ref' in current) {
      const ref = (current as { $ref: string }).$ref
      if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref}`)
      current = ref
        .slice(2)
        .split('/')
        .reduce<unknown>(
          (node, key) => (node as Record<string, unknown>)[key.replace(/~1/g, '/')],
          this.document
        )
    }
    return current as T
  }

  private param(p: Parameter): Parameter {
    return this.resolve(p)
  }

  schema(name: string): Schema {
    return this.resolve({ $ref: `#/components/schemas/${name}` })
  }

  /** The operation for `method pathname` on `host`, or undefined (the real API would 404). */
  route(method: string, pathname: string, host: Host): Route | undefined {
    const verb = method.toLowerCase()
    for (const path of this.compiled) {
      const operation = this.document.paths[path.template]?.[verb]
      if (!operation) continue
      const opHost: Host = operation.servers?.some(s => s.url.includes('uploads.')) ? 'uploads' : 'api'
      if (opHost !== host) continue
      const match = path.pattern.exec(pathname)
      if (!match) continue
      const params: Record<string, string> = {}
      path.names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1] as string)))
      // A literal-looking segment in a parameter's place (e.g. "tags") must still fit its schema.
      if (this.checkParameters(operation, params, 'path').length > 0) continue
      return { method: verb, template: path.template, operation, host, params }
    }
    return undefined
  }

  private checkParameters(operation: Operation, values: Record<string, string>, where: 'path' | 'query') {
    const problems: string[] = []
    const declared = (operation.parameters ?? []).map(p => this.param(p)).filter(p => p.in === where)
    for (const p of declared) {
      const raw = values[p.name]
      if (raw === undefined) {
        if (p.required || where === 'path') problems.push(`${where} parameter ${p.name} is required`)
        continue
      }
      if (p.schema)
        problems.push(...this.validate(p.schema, coerce(p.schema, raw, this), `${where} ${p.name}`))
    }
    for (const name of Object.keys(values)) {
      if (!declared.some(p => p.name === name))
        problems.push(`${where} parameter ${name} isn't in the description`)
    }
    return problems
  }

  /** Problems with a request: query parameters, headers and the body against the operation. */
  checkRequest(
    route: Route,
    query: URLSearchParams,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | undefined
  ): { problems: string[]; json?: unknown } {
    const problems: string[] = []
    const values: Record<string, string> = {}
    for (const [name, value] of query) {
      if (name in values) problems.push(`query parameter ${name} given twice`)
      values[name] = value
    }
    problems.push(...this.checkParameters(route.operation, values, 'query'))

    const requestBody = route.operation.requestBody ? this.resolve(route.operation.requestBody) : undefined
    const contentType = String(headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase()
    if (!requestBody) {
      if (body && body.length > 0) problems.push(`${route.operation.operationId} takes no request body`)
      return { problems }
    }
    const media = Object.entries(requestBody.content)
    const binary = media.find(([, m]) => m.schema && this.resolve(m.schema).format === 'binary')
    if (binary) {
      // Raw bytes (asset uploads): the Content-Type is the asset's media type, whatever the description's
      // example key says, and GitHub wants the length up front.
      if (!contentType) problems.push('Content-Type header is required')
      if (headers['content-length'] === undefined) problems.push('Content-Length header is required')
      if (String(headers['transfer-encoding'] ?? '').includes('chunked')) {
        problems.push('the body must not be sent with chunked transfer encoding')
      }
      return { problems }
    }
    if (!body || body.length === 0) {
      if (requestBody.required) problems.push(`${route.operation.operationId} requires a body`)
      return { problems }
    }
    const entry = requestBody.content[contentType ?? '']
    if (!entry) {
      problems.push(`Content-Type ${contentType} isn't one of ${Object.keys(requestBody.content).join(', ')}`)
      return { problems }
    }
    let json: unknown
    try {
      json = JSON.parse(body.toString('utf8'))
    } catch {
      problems.push('the body is not JSON')
      return { problems }
    }
    if (entry.schema) problems.push(...this.validate(entry.schema, json, 'body', { strict: true }))
    return { problems, json }
  }

  /** Problems with a response the fake is about to send (statuses the description lists only). */
  checkResponse(route: Route, status: number, body: unknown): string[] {
    const response = route.operation.responses[String(status)]
    if (!response) return []
    const content = this.resolve(response).content
    const schema = content?.['application/json']?.schema
    if (!schema) return []
    return this.validate(schema, body, `response ${status}`)
  }

  /**
   * Problems with `value` against an OpenAPI 3.0 schema. `strict` also rejects properties the schema
   * doesn't name (GitHub ignores them silently, so a misspelt field would otherwise go unnoticed).
   */
  validate(schema: Schema, value: unknown, at: string, options: { strict?: boolean } = {}): string[] {
    const problems: string[] = []
    this.check(schema, value, at, problems, options.strict ?? false)
    return problems
  }

  private check(input: Schema, value: unknown, at: string, problems: string[], strict: boolean): void {
    const schema = this.resolve(input)
    if (value === null) {
      if (schema.nullable || schema.enum?.includes(null)) return
      if (!schema.oneOf && !schema.anyOf && !schema.allOf) {
        if (schema.type || schema.properties) problems.push(`${at}: null isn't allowed`)
        return
      }
    }
    for (const part of schema.allOf ?? []) this.check(part, value, at, problems, strict)
    // GitHub's description uses oneOf where the branches overlap (nullable ones): one match is enough.
    for (const [keyword, branches] of [
      ['oneOf', schema.oneOf],
      ['anyOf', schema.anyOf]
    ] as const) {
      if (!branches) continue
      const results = branches.map(branch => this.validate(branch, value, at, { strict }))
      if (!results.some(r => r.length === 0)) {
        problems.push(`${at}: matches none of ${keyword} (${results.map(r => r[0]).join(' | ')})`)
      }
    }
    if (schema.enum && !schema.enum.includes(value as Json)) {
      problems.push(`${at}: ${JSON.stringify(value)} isn't one of ${JSON.stringify(schema.enum)}`)
      return
    }
    const type = schema.type ?? (schema.properties ? 'object' : undefined)
    if (!type) return
    const actual = typeOf(value)
    if (!(actual === type || (type === 'number' && actual === 'integer'))) {
      problems.push(`${at}: expected ${type}, got ${actual}`)
      return
    }
    if (typeof value === 'string') {
      if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: too short`)
      if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: too long`)
      if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) {
        problems.push(`${at}: doesn't match ${schema.pattern}`)
      }
      if (
        schema.format === 'date-time' &&
        !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)
      ) {
        problems.push(`${at}: ${JSON.stringify(value)} isn't a date-time`)
      }
      if (schema.format === 'uri' && !URL.canParse(value))
        problems.push(`${at}: ${JSON.stringify(value)} isn't a URI`)
    }
    if (typeof value === 'number') {
      if (schema.minimum !== undefined && value < schema.minimum)
        problems.push(`${at}: below ${schema.minimum}`)
      if (schema.maximum !== undefined && value > schema.maximum)
        problems.push(`${at}: above ${schema.maximum}`)
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems)
        problems.push(`${at}: too few items`)
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        problems.push(`${at}: too many items`)
      if (schema.items)
        value.forEach((item, i) => this.check(schema.items as Schema, item, `${at}[${i}]`, problems, strict))
    }
    if (actual === 'object') {
      const object = value as Record<string, unknown>
      for (const name of schema.required ?? []) {
        if (!(name in object)) problems.push(`${at}.${name} is required`)
      }
      for (const [name, item] of Object.entries(object)) {
        const property = schema.properties?.[name]
        if (property) this.check(property, item, `${at}.${name}`, problems, strict)
        else if (typeof schema.additionalProperties === 'object') {
          this.check(schema.additionalProperties, item, `${at}.${name}`, problems, strict)
        } else if (
          schema.additionalProperties === false ||
          // strict: a request may not add names the description lists no room for (an explicit
          // `additionalProperties: true`, as the attestation bundle's parts have, is room)
          (strict && schema.properties && schema.additionalProperties !== true)
        ) {
          problems.push(`${at}.${name} isn't in the description`)
        }
      }
    }
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/** A path or query string as the type its schema wants, or the string itself when it doesn't parse. */
function coerce(schema: Schema, raw: string, api: OpenApi): unknown {
  const type = api.resolve(schema).type
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw)
  if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true'
  return raw
}
