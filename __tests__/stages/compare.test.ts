// The compare stage: the image's sha256 against expect-sha256 or the line expect-sha256sums has for it,
// and diffoscope's report of an expect-image when they differ.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { compareStage } from '../../src/stages/compare.js'
import { diffoscopeHtml, reproducibleOutput } from '../../src/pipeline/report.js'
import { testContext } from '../../test/support/context.js'
import type { Inputs } from '../../test/support/config.js'
import { tempDir } from '../../test/support/temp-dir.js'

const DIGEST = 'ab'.repeat(32)
const OTHER = 'cd'.repeat(32)

function withImage(inputs: Inputs) {
  const test = testContext({ 'image-name': 'x', ...inputs })
  test.ctx.image = {
    path: '/out/x.qcow2',
    format: 'qcow2',
    size: 1,
    virtualSize: 1,
    sha256: DIGEST,
    sha512: '',
    sha256sumsPath: '/out/SHA256SUMS',
    manifestPath: '/out/x.manifest'
  }
  return test
}

function sumsFile(text: string): string {
  const file = path.join(tempDir(), 'SHA256SUMS')
  writeFileSync(file, text)
  return file
}

let server: Server
let base: string
const served: Record<string, { status: number; body?: string; location?: string }> = {}

beforeAll(async () => {
  server = createServer((request, response) => {
    const answer = served[request.url ?? ''] ?? { status: 404 }
    response.writeHead(answer.status, answer.location ? { Location: answer.location } : {})
    response.end(answer.body ?? '')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => new Promise<void>(resolve => server.close(() => resolve())))

describe('compare stage', () => {
  it('does not run without expect-sha256, and the output says unchecked', () => {
    const { ctx } = withImage({})
    expect(compareStage.enabled?.(ctx)).toBe(false)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'unchecked' })
  })

  it('passes on the same digest (in any case) and sets reproducible true', async () => {
    const { ctx } = withImage({ 'expect-sha256': DIGEST.toUpperCase() })
    await compareStage.run(ctx)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'true' })
  })

  it('fails on another digest naming both and the kept image, and sets reproducible false', async () => {
    const { ctx } = withImage({ 'expect-sha256': OTHER })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      `expect-sha256: the image's sha256 is ${DIGEST}, not ${OTHER}`
    )
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'false' })
    expect(ctx.diffoscope).toBeUndefined()
  })

  it("reads the image's line of an expect-sha256sums file (binary-mode lines too)", async () => {
    const file = sumsFile(`${OTHER}  x.raw\n${DIGEST.toUpperCase()} *x.qcow2\n`)
    const { ctx } = withImage({ 'expect-sha256sums': file })
    expect(ctx.config.image.expectSha256).toBe(DIGEST)
    await compareStage.run(ctx)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'true' })
  })

  it('fails naming the SHA256SUMS file, the line and both digests', async () => {
    const file = sumsFile(`${OTHER}  x.qcow2\n`)
    const { ctx } = withImage({ 'expect-sha256sums': file })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      `expect-sha256sums (${file}, x.qcow2): the image's sha256 is ${DIGEST}, not ${OTHER}`
    )
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'false' })
  })

  it('fetches an expect-sha256sums URL (following a redirect) after building', async () => {
    served['/release/SHA256SUMS'] = { status: 302, location: '/storage/SHA256SUMS' }
    served['/storage/SHA256SUMS'] = { status: 200, body: `${DIGEST}  x.qcow2\n` }
    const { ctx } = withImage({ 'expect-sha256sums': `${base}/release/SHA256SUMS` })
    expect(ctx.config.image.expectSha256).toBeUndefined()
    await compareStage.run(ctx)
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'true' })
  })

  it('fails closed when the URL has no line for the image or does not answer 200', async () => {
    served['/other/SHA256SUMS'] = { status: 200, body: `${DIGEST}  y.qcow2\n` }
    const { ctx } = withImage({ 'expect-sha256sums': `${base}/other/SHA256SUMS` })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      `expect-sha256sums: ${base}/other/SHA256SUMS has no line for x.qcow2`
    )
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'unchecked' })
    const missing = withImage({ 'expect-sha256sums': `${base}/missing` }).ctx
    await expect(compareStage.run(missing)).rejects.toThrow(`GET ${base}/missing answered 404`)
  })

  it('refuses a redirect to plain http on another machine', async () => {
    served['/away'] = { status: 302, location: 'http://mirror.example/SHA256SUMS' }
    const { ctx } = withImage({ 'expect-sha256sums': `${base}/away` })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      /http:\/\/mirror.example\/SHA256SUMS is not accepted; use an https URL .*\(redirected from/
    )
  })

  it('with expect-image and no diffoscope: says so in the error and the summary', async () => {
    const reference = sumsFile('not an image')
    const { ctx, exec } = withImage({ 'expect-sha256': OTHER, 'expect-image': reference })
    exec.on(['diffoscope', '--version'], { code: 1, stderr: 'sudo: diffoscope: command not found' })
    await expect(compareStage.run(ctx)).rejects.toThrow(
      /not .*cdcd: .*diffoscope is not installed \(Debian: diffoscope-minimal\), so .* was not compared/
    )
    expect(exec.lines).toEqual(['diffoscope --version'])
    expect(diffoscopeHtml(ctx)).toContain('diffoscope is not installed')
    expect(reproducibleOutput(ctx)).toEqual({ reproducible: 'false' })
  })
})
