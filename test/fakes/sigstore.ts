// Sigstore and the runner's OIDC provider on 127.0.0.1, for the action's real signing code.
//
// @actions/attest signs at fixed addresses (Fulcio and Rekor of the public-good instance for a public
// repository; GitHub's Fulcio and timestamp authority for a private one) and checks the runner's OIDC
// token against the keys published at https://token.actions.githubusercontent.com. So the action
// reaches them the way it would behind a corporate proxy: `https_proxy` names a CONNECT proxy here
// that admits only those hosts and tunnels them to one TLS server here, whose certificate (for those
// names) is signed by a throw-away CA that NODE_EXTRA_CA_CERTS makes the action's Node trust. src/ has
// no knob for any of it. Behind the TLS server, @sigstore/mock's request handlers (a real CA with a CT
// log, a transparency log and an RFC 3161 timestamp authority) answer; the OIDC token endpoint
// (ACTIONS_ID_TOKEN_REQUEST_URL) serves RS256 JWTs with the claims GitHub's tokens carry, signed with a
// key whose JWKS the issuer stand-in publishes. `verify()` checks a bundle with @sigstore/verify
// against this instance's trust root.
import { execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'

const require = createRequire(import.meta.url)

interface HandlerResult {
  statusCode: number
  response: string | ArrayBufferView
  contentType?: string
}
interface MockHandler {
  path: string
  fn: (body: string) => Promise<HandlerResult>
}
interface MockCA {
  rootCertificate: ArrayBufferView
}
interface MockCTLog {
  publicKey: Buffer
  logID: ArrayBufferView
}
interface MockTLog {
  publicKey: Buffer
}
interface MockTSA {
  rootCertificate: ArrayBufferView
  intCertificate: ArrayBufferView
}
/* eslint-disable @typescript-eslint/no-explicit-any */
const mock = require('@sigstore/mock') as {
  initializeCTLog: (keys: any) => Promise<MockCTLog>
  initializeCA: (keys: any, ctlog: MockCTLog) => Promise<MockCA>
  fulcioHandler: (ca: MockCA, options?: { subjectClaim?: string }) => MockHandler
  initializeTLog: (url: string, keys: any) => Promise<MockTLog>
  rekorHandler: (tlog: MockTLog) => MockHandler
  initializeTSA: (keys: any) => Promise<MockTSA>
  tsaHandler: (tsa: MockTSA) => MockHandler
}
const verifyLib = require('@sigstore/verify') as {
  toTrustMaterial: (root: unknown) => unknown
  toSignedEntity: (bundle: unknown) => unknown
  Verifier: new (trust: unknown, options: Record<string, number>) => { verify: (entity: unknown) => unknown }
}
// The bundle parser @sigstore/verify was built with (its own copy of @sigstore/bundle).
const bundleLib = createRequire(require.resolve('@sigstore/verify'))('@sigstore/bundle') as {
  bundleFromJSON: (json: unknown) => unknown
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export const ISSUER = 'https://token.actions.githubusercontent.com'
/** The hosts @actions/attest talks to (both instances) and the OIDC issuer's. */
export const SIGSTORE_HOSTS = [
  'fulcio.sigstore.dev',
  'rekor.sigstore.dev',
  'fulcio.githubapp.com',
  'timestamp.githubapp.com',
  'token.actions.githubusercontent.com'
]

export interface TokenRequest {
  audience: string | null
  authorized: boolean
}

export interface StandInOptions {
  /** Directory for the CA file (the test's scratch dir). */
  dir: string
  repository: string
  sha: string
  runId: string
}

function bytes(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength)
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A CA and a server certificate for `hosts`, made with openssl in `dir`. */
function tlsMaterial(dir: string, hosts: string[]): { ca: string; cert: string; key: string } {
  const file = (name: string): string => path.join(dir, name)
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=arch-image test CA (sigstore stand-in)',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign'
  ])
  openssl([
    'req',
    ...ec,
    '-keyout',
    file('tls.key'),
    '-out',
    file('tls.csr'),
    '-subj',
    '/CN=sigstore stand-in'
  ])
  writeFileSync(file('tls.ext'), `subjectAltName=${hosts.map(host => `DNS:${host}`).join(',')}\n`)
  openssl([
    'x509',
    '-req',
    '-in',
    file('tls.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('tls.pem'),
    '-days',
    '2',
    '-extfile',
    file('tls.ext')
  ])
  return { ca: file('ca.pem'), cert: file('tls.pem'), key: file('tls.key') }
}

/**
 * What Rekor stores for a proposed `dsse` 0.0.1 entry: the hashes of the envelope and its payload and
 * the signatures with their verifiers, not the envelope itself. (@sigstore/mock's log takes the body
 * as it is sent; this is the step the real Rekor does before logging.) Other kinds pass unchanged.
 */
function rekorStored(body: string): string {
  const proposed = JSON.parse(body) as {
    kind?: string
    apiVersion?: string
    spec?: { proposedContent?: { envelope: string; verifiers: string[] } }
  }
  const content = proposed.spec?.proposedContent
  if (proposed.kind !== 'dsse' || proposed.apiVersion !== '0.0.1' || !content) return body
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: { sig: string }[] }
  const hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((signature, i) => ({
        signature: signature.sig,
        verifier: content.verifiers[i] ?? content.verifiers[0]
      }))
    }
  })
}

export class SigstoreStandIn {
  /** Hosts the proxy was asked for (CONNECT), in order; refused ones too. */
  readonly connects: string[] = []
  /** `host path` of every request the TLS server answered. */
  readonly requests: string[] = []
  readonly tokenRequests: TokenRequest[] = []
  private readonly servers: net.Server[] = []
  private readonly requestToken = randomBytes(16).toString('hex')
  private readonly jwtKey: KeyObject
  private readonly kid = randomBytes(8).toString('hex')
  private trustedRoot: unknown
  private caFile = ''
  private proxyUrl = ''
  private tokenUrl = ''

  private constructor(private readonly options: StandInOptions) {
    this.jwtKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  }

  static async start(options: StandInOptions): Promise<SigstoreStandIn> {
    const standIn = new SigstoreStandIn(options)
    await standIn.listen()
    return standIn
  }

  /** What the runner gives a job with `id-token: write`, and the proxy route to Sigstore. */
  env(): Record<string, string> {
    return {
      ACTIONS_ID_TOKEN_REQUEST_URL: this.tokenUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: this.requestToken,
      GITHUB_SERVER_URL: 'https://github.com',
      https_proxy: this.proxyUrl,
      no_proxy: '127.0.0.1,localhost',
      NODE_EXTRA_CA_CERTS: this.caFile
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(server => {
        if (server instanceof http.Server) server.closeAllConnections()
        return new Promise<void>(resolve => server.close(() => resolve()))
      })
    )
  }

  /**
   * Verify a Sigstore bundle (JSON) against this instance's trust root; throws when it does not verify.
   * `transparencyLog`: the bundle must carry a verified Rekor entry (the public-good instance's bundles
   * do; GitHub's instance timestamps with its TSA instead). Either way one verified time is required.
   */
  verify(bundleJson: unknown, options: { transparencyLog?: boolean } = {}): void {
    const verifier = new verifyLib.Verifier(verifyLib.toTrustMaterial(this.trustedRoot), {
      ctlogThreshold: 1,
      tlogThreshold: options.transparencyLog ? 1 : 0,
      timestampThreshold: 1
    })
    verifier.verify(verifyLib.toSignedEntity(bundleLib.bundleFromJSON(bundleJson)))
  }

  /** A token as GitHub's OIDC provider issues it to this workflow run. */
  private jwt(audience: string): string {
    const [owner] = this.options.repository.split('/')
    const workflow = `${this.options.repository}/.github/workflows/images.yml@refs/heads/main`
    const now = Math.floor(Date.now() / 1000)
    const claims = {
      iss: ISSUER,
      aud: audience,
      sub: `repo:${this.options.repository}:ref:refs/heads/main`,
      ref: 'refs/heads/main',
      sha: this.options.sha,
      repository: this.options.repository,
      repository_owner: owner,
      repository_id: '4242',
      repository_owner_id: '2424',
      repository_visibility: 'private',
      event_name: 'push',
      workflow: 'images',
      workflow_ref: workflow,
      workflow_sha: this.options.sha,
      job_workflow_ref: workflow,
      job_workflow_sha: this.options.sha,
      runner_environment: 'github-hosted',
      run_id: this.options.runId,
      run_attempt: '1',
      iat: now,
      nbf: now - 5,
      exp: now + 300
    }
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }))
    const payload = base64url(JSON.stringify(claims))
    const signature = sign('RSA-SHA256', Buffer.from(`${header}.${payload}`), this.jwtKey)
    return `${header}.${payload}.${base64url(signature)}`
  }

  private async listen(): Promise<void> {
    const keys = (): unknown => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const ctlog = await mock.initializeCTLog(keys())
    const ca = await mock.initializeCA(keys(), ctlog)
    const tlog = await mock.initializeTLog('https://rekor.sigstore.dev', keys())
    const tsa = await mock.initializeTSA(keys())
    // The mock writes genTime with its milliseconds, which DER drops trailing zeros of ("…12.34Z");
    // @sigstore/verify reads only three digits or none, so one timestamp in ten failed to parse.
    // Whole seconds are what real timestamp authorities answer with.
    ;(tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () =>
      new Date(Math.floor(Date.now() / 1000) * 1000)
    const handlers: Record<string, MockHandler> = {
      'fulcio.sigstore.dev': mock.fulcioHandler(ca),
      'fulcio.githubapp.com': mock.fulcioHandler(ca),
      'rekor.sigstore.dev': mock.rekorHandler(tlog),
      'timestamp.githubapp.com': mock.tsaHandler(tsa)
    }
    const past = new Date(Date.now() - 3600_000)
    const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest()
    const key = (rawBytes: Buffer) => ({
      rawBytes,
      keyDetails: 5 /* PKIX_ECDSA_P256_SHA_256 */,
      validFor: { start: past }
    })
    this.trustedRoot = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: [
        {
          subject: { commonName: 'sigstore', organization: 'sigstore.mock' },
          uri: 'https://fulcio.githubapp.com',
          certChain: { certificates: [{ rawBytes: bytes(ca.rootCertificate) }] },
          validFor: { start: past }
        }
      ],
      tlogs: [
        {
          baseUrl: 'https://rekor.sigstore.dev',
          hashAlgorithm: 1 /* SHA2_256 */,
          publicKey: key(tlog.publicKey),
          logId: { keyId: sha256(tlog.publicKey) }
        }
      ],
      ctlogs: [
        {
          baseUrl: 'https://ctfe.sigstore.dev',
          hashAlgorithm: 1,
          publicKey: key(ctlog.publicKey),
          logId: { keyId: bytes(ctlog.logID) }
        }
      ],
      timestampAuthorities: [
        {
          subject: { commonName: 'tsa', organization: 'sigstore.mock' },
          uri: 'https://timestamp.githubapp.com',
          certChain: {
            certificates: [{ rawBytes: bytes(tsa.intCertificate) }, { rawBytes: bytes(tsa.rootCertificate) }]
          },
          validFor: { start: past }
        }
      ]
    }

    const material = tlsMaterial(this.options.dir, SIGSTORE_HOSTS)
    this.caFile = material.ca
    const jwk = this.jwtKey.export({ format: 'jwk' })
    const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: this.kid, alg: 'RS256', use: 'sig' }
    const tlsServer = https.createServer(
      { cert: readFileSync(material.cert), key: readFileSync(material.key) },
      (req, res) => {
        void (async () => {
          const host = String(req.headers.host ?? '').replace(/:\d+$/, '')
          const url = new URL(req.url ?? '/', `https://${host}`)
          const body = await readBody(req)
          this.requests.push(`${host} ${url.pathname}`)
          const json = (status: number, value: unknown): void => {
            res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
          }
          if (host === 'token.actions.githubusercontent.com') {
            if (url.pathname === '/.well-known/openid-configuration') {
              return json(200, { issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks` })
            }
            if (url.pathname === '/.well-known/jwks') return json(200, { keys: [publicJwk] })
            return json(404, { message: 'not found' })
          }
          const handler = handlers[host]
          if (!handler || handler.path !== url.pathname || req.method !== 'POST') {
            return json(404, { message: `no ${req.method} ${url.pathname} on ${host}` })
          }
          const result = await handler.fn(host.startsWith('rekor.') ? rekorStored(body) : body)
          const response = typeof result.response === 'string' ? result.response : bytes(result.response)
          res
            .writeHead(result.statusCode, { 'content-type': result.contentType ?? 'application/json' })
            .end(response)
        })().catch(error => {
          if (!res.headersSent) res.writeHead(500).end(String(error))
        })
      }
    )
    this.servers.push(tlsServer)
    const tlsPort = await listen(tlsServer)

    // The CONNECT proxy: the listed hosts on 443 go to the TLS server, anything else is refused.
    const proxy = http.createServer((_req, res) => res.writeHead(405).end())
    proxy.on('connect', (req: IncomingMessage, client: net.Socket, head: Buffer) => {
      const target = String(req.url ?? '')
      this.connects.push(target)
      const [host, port] = target.split(':')
      if (!SIGSTORE_HOSTS.includes(host ?? '') || port !== '443') {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
        return
      }
      const upstream = net.connect(tlsPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        if (head.length > 0) upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      const drop = (): void => {
        upstream.destroy()
        client.destroy()
      }
      upstream.on('error', drop)
      client.on('error', drop)
    })
    this.servers.push(proxy)
    this.proxyUrl = `http://127.0.0.1:${await listen(proxy)}`

    // The runner's token endpoint: ACTIONS_ID_TOKEN_REQUEST_URL, asked with the request token.
    const tokens = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const authorized = req.headers.authorization === `Bearer ${this.requestToken}`
      const audience = url.searchParams.get('audience')
      this.tokenRequests.push({ audience, authorized })
      if (!authorized || !audience) return res.writeHead(401).end()
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ value: this.jwt(audience) }))
    })
    this.servers.push(tokens)
    this.tokenUrl = `http://127.0.0.1:${await listen(tokens)}/_apis/token?api-version=2.0`
  }
}
