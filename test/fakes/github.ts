// A fake of the GitHub REST endpoints the action uses (releases and their assets, the latest release,
// pull request comments, deleting a tag, storing an attestation), on 127.0.0.1: the API on one port and uploads.github.com on another (a
// release's upload_url points at it; asset downloads redirect to it too, as to GitHub's storage host). Every request is checked against
// GitHub's OpenAPI description (github-openapi.ts); one that doesn't match gets a 400 and lands in
// `violations`, which the tests assert empty, so the fake can't drift from the real API. Responses are
// shaped like GitHub's and checked against the description too.
//
// Behaviour copied from the real service: the tag lookup 404s for drafts; listing shows drafts only to a
// token that can push; a read-only token gets 403 "Resource not accessible by integration" on writes;
// an upload of a name that exists gets 422 already_exists; a published release of a repository with
// immutable releases refuses asset uploads and deletions (422), and its tag can't be reused once deleted;
// publishing a release creates its git tag, deleting the release leaves the tag, and deleting a tag that
// doesn't exist gets 422 "Reference does not exist". Comments are posted as the token's identity: a user
// token (`users`) as its user, whom GET /user names; an installation token (GITHUB_TOKEN) as
// github-actions[bot], and GET /user refuses it with 403 "Resource not accessible by integration".
// Scenario controls inject a 422 race, a 502 that leaves a `starter` asset, a dropped connection, or any
// status for an operation.
import { createHash, randomBytes } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { OpenApi, type Host, type Route } from './github-openapi.js'

export type Permission = 'write' | 'read'

export interface FakeGitHubOptions {
  owner?: string
  repo?: string
  /** Token → permission; default `{ 'write-token': 'write', 'read-token': 'read' }`. */
  tokens?: Record<string, Permission>
  /**
   * Tokens of users (personal access tokens) → the user's login. Any other token is an installation
   * token like the workflow's GITHUB_TOKEN: it acts as github-actions[bot], and GET /user refuses it.
   */
  users?: Record<string, string>
  /** The repository setting: publishing a release makes it immutable. */
  immutableReleases?: boolean
}

export interface FakeAsset {
  id: number
  name: string
  label: string | null
  state: 'uploaded' | 'starter'
  contentType: string
  size: number
  sha256: string
  /** The bytes, kept for small assets (served by the asset download). */
  content?: Buffer
  createdAt: string
  updatedAt: string
}

export interface CommentAuthor {
  login: string
  type: 'User' | 'Bot'
}

export interface FakeComment {
  id: number
  issue: number
  body: string
  author: CommentAuthor
  createdAt: string
  updatedAt: string
}

export interface FakeRelease {
  id: number
  tagName: string
  targetCommitish: string
  name: string | null
  body: string | null
  draft: boolean
  prerelease: boolean
  immutable: boolean
  makeLatest?: string
  createdAt: string
  publishedAt: string | null
  updatedAt: string
  untagged: string
  assets: FakeAsset[]
}

export interface RecordedRequest {
  host: Host
  method: string
  /** Path and query as received. */
  url: string
  operationId?: string
  params: Record<string, string>
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  /** Parsed JSON body. */
  json?: unknown
  status: number
}

export interface RecordedUpload {
  releaseId: number
  name: string
  contentType: string
  contentLength: number | undefined
  chunked: boolean
  bytes: number
  sha256: string
}

export type UploadFault =
  /** Someone else uploads the same name first: the upload gets 422 already_exists. */
  | 'already-exists'
  /** GitHub's upstream fails: 502 after the body, and a `starter` asset of that name stays. */
  | 'starter-502'
  /** The connection drops halfway through the body; a `starter` asset stays. */
  | 'reset'

export interface Fault {
  operationId: string
  /** Only requests whose asset name (uploads) matches. */
  name?: string
  status: number
  body?: unknown
}

type Handler = (req: Incoming) => Promise<Reply> | Reply

interface Incoming {
  route: Route
  url: URL
  json: unknown
  permission: Permission
  raw: IncomingMessage
  res: ServerResponse
}

interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** Already answered (or dropped) by the handler. */
  sent?: boolean
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z')

function docs(route: Route | undefined): string {
  return route?.operation.externalDocs?.url ?? 'https://docs.github.com/rest'
}

const BOT = {
  login: 'github-actions[bot]',
  id: 41898282,
  node_id: 'MDM6Qm90NDE4OTgyODI=',
  avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4',
  gravatar_id: '',
  url: 'https://api.github.com/users/github-actions%5Bbot%5D',
  html_url: 'https://github.com/apps/github-actions',
  followers_url: 'https://api.github.com/users/github-actions%5Bbot%5D/followers',
  following_url: 'https://api.github.com/users/github-actions%5Bbot%5D/following{/other_user}',
  gists_url: 'https://api.github.com/users/github-actions%5Bbot%5D/gists{/gist_id}',
  starred_url: 'https://api.github.com/users/github-actions%5Bbot%5D/starred{/owner}{/repo}',
  subscriptions_url: 'https://api.github.com/users/github-actions%5Bbot%5D/subscriptions',
  organizations_url: 'https://api.github.com/users/github-actions%5Bbot%5D/orgs',
  repos_url: 'https://api.github.com/users/github-actions%5Bbot%5D/repos',
  events_url: 'https://api.github.com/users/github-actions%5Bbot%5D/events{/privacy}',
  received_events_url: 'https://api.github.com/users/github-actions%5Bbot%5D/received_events',
  type: 'Bot',
  user_view_type: 'public',
  site_admin: false
}

/** Who an installation token (the workflow's GITHUB_TOKEN) acts as. */
export const ACTIONS_BOT: CommentAuthor = { login: BOT.login, type: 'Bot' }

/** GitHub's public-user shape for `login` (GET /user, a comment's user). */
function userJson(login: string): Record<string, unknown> {
  const id = [...login].reduce((sum, c) => sum * 31 + c.charCodeAt(0), 7) % 100_000_000
  const url = `https://api.github.com/users/${login}`
  return {
    login,
    id,
    node_id: Buffer.from(`04:User${id}`).toString('base64'),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'User',
    user_view_type: 'public',
    site_admin: false
  }
}

export class FakeGitHub {
  readonly openapi = OpenApi.load()
  readonly owner: string
  readonly repo: string
  readonly tokens: Record<string, Permission>
  readonly users: Record<string, string>
  immutableReleases: boolean
  readonly releases: FakeRelease[] = []
  readonly requests: RecordedRequest[] = []
  readonly uploads: RecordedUpload[] = []
  /** Requests that don't match the OpenAPI description, and responses of the fake that don't either. */
  readonly violations: string[] = []
  /** Tags of deleted immutable releases: GitHub never lets them be used again. */
  readonly burnedTags = new Set<string>()
  /**
   * The repository's git tags (names, without `refs/tags/`): a published release has one; a draft has
   * none. Deleting a release leaves its tag, as on GitHub; only `git/delete-ref` removes it.
   */
  get tags(): Set<string> {
    return this.gitTags
  }
  private readonly gitTags = new Set<string>()
  /** Issue comments, oldest first; comments go only to the pull requests in `pullRequests`. */
  readonly comments: FakeComment[] = []
  readonly pullRequests = new Set<number>()
  /** Attestations stored with repos/create-attestation, oldest first. */
  readonly attestations: { id: number; bundle: unknown }[] = []
  private readonly uploadFaults: { fault: UploadFault; name?: string }[] = []
  private readonly faults: Fault[] = []
  private gate: Promise<void> | undefined
  /** Uploads that arrived and wait for `pauseUploads`' resume before their body is read. */
  waitingUploads = 0
  private nextId = 1000
  private servers: http.Server[] = []
  apiUrl = ''
  uploadsUrl = ''

  private constructor(options: FakeGitHubOptions) {
    this.owner = options.owner ?? 'octo-org'
    this.repo = options.repo ?? 'arch-images'
    this.tokens = options.tokens ?? { 'write-token': 'write', 'read-token': 'read' }
    this.users = options.users ?? {}
    this.immutableReleases = options.immutableReleases ?? false
  }

  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const fake = new FakeGitHub(options)
    const listen = async (host: Host): Promise<string> => {
      const server = http.createServer((req, res) => {
        fake.handle(host, req, res).catch(error => {
          fake.violations.push(`fake crashed on ${req.method} ${req.url}: ${(error as Error).stack}`)
          if (!res.headersSent) res.writeHead(500).end()
        })
      })
      fake.servers.push(server)
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    }
    fake.apiUrl = await listen('api')
    fake.uploadsUrl = await listen('uploads')
    return fake
  }

  get repository(): string {
    return `${this.owner}/${this.repo}`
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(server => {
        server.closeAllConnections()
        return new Promise<void>(resolve => server.close(() => resolve()))
      })
    )
  }

  // --- scenario controls --------------------------------------------------------------------------

  /** The next upload (of `name`, if given) fails as `fault` says. */
  failNextUpload(fault: UploadFault, name?: string): void {
    this.uploadFaults.push({ fault, name })
  }

  /** The next request for `operationId` (with asset `name`, for uploads) gets `status` and `body`. */
  failNext(fault: Fault): void {
    this.faults.push(fault)
  }

  /** Hold every upload's body unread (TCP backpressure on the client) until the returned resume(). */
  pauseUploads(): () => void {
    let resume = (): void => {}
    this.gate = new Promise<void>(resolve => (resume = resolve)).then(() => {
      this.gate = undefined
    })
    return resume
  }

  /** A release as if made earlier, with assets of the given contents. */
  seedRelease(options: {
    tag: string
    name?: string
    draft?: boolean
    prerelease?: boolean
    immutable?: boolean
    assets?: Record<string, string | Buffer>
  }): FakeRelease {
    const release = this.newRelease({
      tag_name: options.tag,
      name: options.name,
      draft: options.draft ?? false,
      prerelease: options.prerelease ?? false
    })
    release.immutable = options.immutable ?? (this.immutableReleases && !release.draft)
    if (!release.draft) this.gitTags.add(release.tagName)
    for (const [name, content] of Object.entries(options.assets ?? {})) {
      const bytes = Buffer.from(content)
      release.assets.push({
        ...this.newAsset(name, 'application/octet-stream', bytes.length, sha256(bytes)),
        content: bytes
      })
    }
    return release
  }

  /** A comment as if posted earlier on pull request `issue` by `author` (default: the user octocat). */
  seedComment(
    issue: number,
    body: string,
    author: CommentAuthor = { login: 'octocat', type: 'User' }
  ): FakeComment {
    const at = now()
    const comment = { id: this.nextId++, issue, body, author, createdAt: at, updatedAt: at }
    this.comments.push(comment)
    return comment
  }

  releaseByTag(tag: string): FakeRelease[] {
    return this.releases.filter(r => r.tagName === tag)
  }

  /** The operations called, in order, e.g. `repos/create-release`. */
  operations(): string[] {
    return this.requests.map(r => r.operationId ?? `${r.method} ${r.url}`)
  }

  /** Requests that could change something. */
  writes(): RecordedRequest[] {
    return this.requests.filter(r => r.method !== 'GET')
  }

  // --- model ----------------------------------------------------------------------------------------

  /** Whom a request's token acts as: its user, or github-actions[bot] for an installation token. */
  private author(req: IncomingMessage): CommentAuthor {
    const token = /^(?:token|bearer) (.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1] ?? ''
    const login = this.users[token]
    return login ? { login, type: 'User' } : ACTIONS_BOT
  }

  private newRelease(body: {
    tag_name: string
    target_commitish?: string
    name?: string
    body?: string
    draft?: boolean
    prerelease?: boolean
  }): FakeRelease {
    const at = now()
    const release: FakeRelease = {
      id: this.nextId++,
      tagName: body.tag_name,
      targetCommitish: body.target_commitish ?? 'main',
      name: body.name ?? null,
      body: body.body ?? null,
      draft: body.draft ?? false,
      prerelease: body.prerelease ?? false,
      immutable: false,
      createdAt: at,
      publishedAt: body.draft ? null : at,
      updatedAt: at,
      untagged: `untagged-${randomBytes(10).toString('hex')}`,
      assets: []
    }
    this.releases.push(release)
    return release
  }

  private newAsset(name: string, contentType: string, size: number, digest: string): FakeAsset {
    const at = now()
    return {
      id: this.nextId++,
      name,
      label: null,
      state: 'uploaded',
      contentType,
      size,
      sha256: digest,
      createdAt: at,
      updatedAt: at
    }
  }

  private releaseJson(release: FakeRelease): Record<string, unknown> {
    const api = `${this.apiUrl}/repos/${this.owner}/${this.repo}`
    const slug = release.draft ? release.untagged : release.tagName
    return {
      url: `${api}/releases/${release.id}`,
      assets_url: `${api}/releases/${release.id}/assets`,
      upload_url: `${this.uploadsUrl}/repos/${this.owner}/${this.repo}/releases/${release.id}/assets{?name,label}`,
      html_url: `https://github.com/${this.owner}/${this.repo}/releases/tag/${encodeURIComponent(slug)}`,
      id: release.id,
      author: BOT,
      node_id: Buffer.from(`Release${release.id}`).toString('base64'),
      tag_name: release.tagName,
      target_commitish: release.targetCommitish,
      name: release.name,
      draft: release.draft,
      immutable: release.immutable,
      prerelease: release.prerelease,
      created_at: release.createdAt,
      updated_at: release.updatedAt,
      published_at: release.publishedAt,
      assets: release.assets.map(asset => this.assetJson(release, asset)),
      tarball_url: release.draft ? null : `${api}/tarball/${release.tagName}`,
      zipball_url: release.draft ? null : `${api}/zipball/${release.tagName}`,
      body: release.body
    }
  }

  private assetJson(release: FakeRelease, asset: FakeAsset): Record<string, unknown> {
    const slug = release.draft ? release.untagged : release.tagName
    return {
      url: `${this.apiUrl}/repos/${this.owner}/${this.repo}/releases/assets/${asset.id}`,
      id: asset.id,
      node_id: Buffer.from(`ReleaseAsset${asset.id}`).toString('base64'),
      name: asset.name,
      label: asset.label,
      uploader: BOT,
      content_type: asset.contentType,
      state: asset.state,
      size: asset.size,
      digest: asset.state === 'uploaded' ? `sha256:${asset.sha256}` : null,
      download_count: 0,
      created_at: asset.createdAt,
      updated_at: asset.updatedAt,
      browser_download_url: `https://github.com/${this.owner}/${this.repo}/releases/download/${encodeURIComponent(slug)}/${encodeURIComponent(asset.name)}`
    }
  }

  private commentJson(comment: FakeComment): Record<string, unknown> {
    const api = `${this.apiUrl}/repos/${this.owner}/${this.repo}`
    return {
      id: comment.id,
      node_id: Buffer.from(`IssueComment${comment.id}`).toString('base64'),
      url: `${api}/issues/comments/${comment.id}`,
      html_url: `https://github.com/${this.owner}/${this.repo}/pull/${comment.issue}#issuecomment-${comment.id}`,
      body: comment.body,
      user:
        comment.author.type === 'Bot'
          ? { ...BOT, login: comment.author.login }
          : userJson(comment.author.login),
      created_at: comment.createdAt,
      updated_at: comment.updatedAt,
      issue_url: `${api}/issues/${comment.issue}`,
      author_association: 'NONE',
      performed_via_github_app: null
    }
  }

  /** Newest first, as GitHub lists them; drafts only for a token that can push. */
  private visibleReleases(permission: Permission): FakeRelease[] {
    return [...this.releases].reverse().filter(r => permission === 'write' || !r.draft)
  }

  private findRelease(id: string): FakeRelease | undefined {
    return this.releases.find(r => String(r.id) === id)
  }

  private findAsset(id: string): [FakeRelease, FakeAsset] | undefined {
    for (const release of this.releases) {
      const asset = release.assets.find(a => String(a.id) === id)
      if (asset) return [release, asset]
    }
    return undefined
  }

  private locked(release: FakeRelease): boolean {
    return release.immutable && !release.draft
  }

  private publish(release: FakeRelease): void {
    release.draft = false
    release.publishedAt = now()
    this.gitTags.add(release.tagName)
    if (this.immutableReleases) release.immutable = true
  }

  // --- HTTP -----------------------------------------------------------------------------------------

  private async handle(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    // Asset downloads are redirected to a storage host (objects.githubusercontent.com): not the API.
    const download = /^\/_storage\/(\d+)$/.exec(url.pathname)
    if (host === 'uploads' && method === 'GET' && download) {
      const asset = this.findAsset(download[1] as string)?.[1]
      if (!asset?.content) return void res.writeHead(404).end()
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': asset.content.length
      })
      return void res.end(asset.content)
    }
    const route = this.openapi.route(method, url.pathname, host)
    const record: RecordedRequest = {
      host,
      method,
      url: req.url ?? '/',
      operationId: route?.operation.operationId,
      params: route?.params ?? {},
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      status: 0
    }
    this.requests.push(record)
    const send = (reply: Reply): void => {
      record.status = reply.status
      if (reply.sent) return
      if (route && reply.body !== undefined) {
        for (const problem of this.openapi.checkResponse(route, reply.status, reply.body)) {
          // The description's asset state enum lacks `starter`, which its upload text documents.
          if (/\.state: "starter" isn't one of/.test(problem)) continue
          this.violations.push(`response of ${route.operation.operationId}: ${problem}`)
        }
      }
      const headers: Record<string, string> = { ...reply.headers }
      if (reply.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8'
      res.writeHead(reply.status, headers)
      res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body))
    }

    if (!route) {
      await drain(req)
      this.violations.push(`${method} ${req.url} on ${host}: no such operation in the OpenAPI description`)
      return send({
        status: 404,
        body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }
      })
    }
    const id = route.operation.operationId
    const binary = id === 'repos/upload-release-asset'
    const body = binary ? undefined : await readBody(req)
    const { problems, json } = this.openapi.checkRequest(route, url.searchParams, req.headers, body)
    record.json = json
    if (problems.length > 0) {
      await drain(req)
      this.violations.push(...problems.map(p => `${method} ${req.url} (${id}): ${p}`))
      return send({
        status: 400,
        body: {
          message: `fake GitHub: request doesn't match the OpenAPI description: ${problems.join('; ')}`
        }
      })
    }

    const auth = /^(?:token|bearer) (.+)$/i.exec(String(req.headers.authorization ?? ''))
    const permission = auth ? this.tokens[auth[1] as string] : undefined
    if (!permission) {
      await drain(req)
      return send({
        status: 401,
        body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }
      })
    }
    const { owner, repo } = route.params
    if (id === 'users/get-authenticated') {
      const login = this.users[auth?.[1] as string]
      if (login) {
        const profile = { name: null, company: null, blog: '', location: null, email: null, hireable: null }
        const counts = { bio: null, public_repos: 0, public_gists: 0, followers: 0, following: 0 }
        const at = '2020-01-01T00:00:00Z'
        return send({
          status: 200,
          body: { ...userJson(login), ...profile, ...counts, created_at: at, updated_at: at }
        })
      }
      return send({
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: docs(route),
          status: '403'
        }
      })
    }
    if (
      owner?.toLowerCase() !== this.owner.toLowerCase() ||
      repo?.toLowerCase() !== this.repo.toLowerCase()
    ) {
      await drain(req)
      return send(notFound(route))
    }
    if (method !== 'GET' && permission === 'read') {
      await drain(req)
      return send({
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: docs(route),
          status: '403'
        }
      })
    }
    const faultAt = this.faults.findIndex(
      f => f.operationId === id && (f.name === undefined || f.name === url.searchParams.get('name'))
    )
    if (faultAt >= 0) {
      const [fault] = this.faults.splice(faultAt, 1) as [Fault]
      await drain(req)
      return send({ status: fault.status, body: fault.body })
    }

    const handler = this.handlers[id]
    if (!handler) {
      await drain(req)
      this.violations.push(`${id}: the fake doesn't implement it`)
      return send({ status: 501, body: { message: `fake GitHub doesn't implement ${id}` } })
    }
    send(await handler({ route, url, json, permission, raw: req, res }))
  }

  private paginate(url: URL, items: unknown[]): Reply {
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100)
    const page = Number(url.searchParams.get('page') ?? 1)
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const link = (n: number, rel: string): string => {
      const next = new URL(url.pathname, this.apiUrl)
      next.searchParams.set('per_page', String(perPage))
      next.searchParams.set('page', String(n))
      return `<${next}>; rel="${rel}"`
    }
    const links = []
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'))
    return {
      status: 200,
      body: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length > 0 ? { link: links.join(', ') } : {}
    }
  }

  private readonly handlers: Record<string, Handler> = {
    'repos/get-latest-release': ({ route }) => {
      // GitHub's latest: the newest published release that isn't a prerelease or made "not latest".
      const release = this.visibleReleases('read').find(r => !r.prerelease && r.makeLatest !== 'false')
      return release ? { status: 200, body: this.releaseJson(release) } : notFound(route)
    },

    'repos/get-release-asset': ({ route, raw, permission }) => {
      const found = this.findAsset(route.params.asset_id as string)
      if (!found || (found[0].draft && permission !== 'write')) return notFound(route)
      const [release, asset] = found
      if (String(raw.headers.accept ?? '').includes('application/octet-stream')) {
        return { status: 302, headers: { location: `${this.uploadsUrl}/_storage/${asset.id}` } }
      }
      return { status: 200, body: this.assetJson(release, asset) }
    },

    'issues/list-comments': ({ route, url }) => {
      const issue = Number(route.params.issue_number)
      if (!this.pullRequests.has(issue)) return notFound(route)
      return this.paginate(
        url,
        this.comments.filter(c => c.issue === issue).map(c => this.commentJson(c))
      )
    },

    'issues/create-comment': ({ route, json, raw }) => {
      const issue = Number(route.params.issue_number)
      if (!this.pullRequests.has(issue)) return notFound(route)
      const comment = this.seedComment(issue, (json as { body: string }).body, this.author(raw))
      return { status: 201, body: this.commentJson(comment) }
    },

    'issues/update-comment': ({ route, json }) => {
      const comment = this.comments.find(c => String(c.id) === route.params.comment_id)
      if (!comment) return notFound(route)
      comment.body = (json as { body: string }).body
      comment.updatedAt = now()
      return { status: 200, body: this.commentJson(comment) }
    },

    'repos/get-release-by-tag': ({ route }) => {
      const release = this.visibleReleases('read').find(r => r.tagName === route.params.tag)
      return release ? { status: 200, body: this.releaseJson(release) } : notFound(route)
    },

    'repos/list-releases': ({ url, permission }) =>
      this.paginate(
        url,
        this.visibleReleases(permission).map(r => this.releaseJson(r))
      ),

    'repos/create-release': ({ route, json }) => {
      const body = json as Parameters<FakeGitHub['newRelease']>[0]
      if (this.burnedTags.has(body.tag_name)) {
        return validationFailed(route, {
          resource: 'Release',
          code: 'custom',
          field: 'tag_name',
          message: 'tag_name was used by an immutable release'
        })
      }
      if (!body.draft && this.releases.some(r => !r.draft && r.tagName === body.tag_name)) {
        return validationFailed(route, { resource: 'Release', code: 'already_exists', field: 'tag_name' })
      }
      const release = this.newRelease(body)
      const makeLatest = (json as { make_latest?: unknown }).make_latest
      if (typeof makeLatest === 'string') release.makeLatest = makeLatest
      if (!release.draft) {
        release.draft = true
        this.publish(release)
      }
      return { status: 201, body: this.releaseJson(release) }
    },

    'repos/update-release': ({ route, json }) => {
      const release = this.findRelease(route.params.release_id as string)
      if (!release) return notFound(route)
      const body = (json ?? {}) as Record<string, unknown>
      if (body.draft === true && this.locked(release)) {
        return validationFailed(route, {
          resource: 'Release',
          code: 'custom',
          message: 'state cannot be changed when release is immutable'
        })
      }
      if (body.draft === false && release.draft) {
        if (this.releases.some(r => r !== release && !r.draft && r.tagName === release.tagName)) {
          return validationFailed(route, { resource: 'Release', code: 'already_exists', field: 'tag_name' })
        }
        this.publish(release)
      } else if (body.draft === true) {
        release.draft = true
        release.publishedAt = null
      }
      if (typeof body.name === 'string') release.name = body.name
      if (typeof body.body === 'string') release.body = body.body
      if (typeof body.prerelease === 'boolean') release.prerelease = body.prerelease
      if (typeof body.make_latest === 'string') release.makeLatest = body.make_latest
      release.updatedAt = now()
      return { status: 200, body: this.releaseJson(release) }
    },

    'repos/delete-release': ({ route }) => {
      const release = this.findRelease(route.params.release_id as string)
      if (!release) return notFound(route)
      if (this.locked(release)) this.burnedTags.add(release.tagName)
      // the release goes, its git tag stays (as on GitHub)
      this.releases.splice(this.releases.indexOf(release), 1)
      return { status: 204 }
    },

    // POST /repos/{owner}/{repo}/attestations, body `{ bundle: { mediaType, verificationMaterial,
    // dsseEnvelope } }`, answered 201 `{ id: integer }`; a token without write gets 403 above. Shape from
    // GitHub's OpenAPI description (@octokit/openapi api.github.com.json, operation
    // repos/create-attestation; github/rest-api-description), which checkRequest/checkResponse enforce.
    'repos/create-attestation': ({ json }) => {
      const id = this.nextId++
      this.attestations.push({ id, bundle: (json as { bundle: unknown }).bundle })
      return { status: 201, body: { id } }
    },

    'git/delete-ref': ({ route }) => {
      // Only tags are modelled: any other ref (a branch) doesn't exist here.
      const ref = route.params.ref as string
      const tag = ref.startsWith('tags/') ? ref.slice('tags/'.length) : undefined
      if (tag === undefined || !this.gitTags.delete(tag)) {
        return {
          status: 422,
          body: { message: 'Reference does not exist', documentation_url: docs(route), status: '422' }
        }
      }
      return { status: 204 }
    },

    'repos/list-release-assets': ({ route, url }) => {
      const release = this.findRelease(route.params.release_id as string)
      if (!release) return notFound(route)
      return this.paginate(
        url,
        release.assets.map(a => this.assetJson(release, a))
      )
    },

    'repos/delete-release-asset': ({ route }) => {
      const found = this.findAsset(route.params.asset_id as string)
      if (!found) return notFound(route)
      const [release, asset] = found
      if (this.locked(release)) {
        return validationFailed(route, {
          resource: 'ReleaseAsset',
          code: 'custom',
          message: 'Cannot delete asset from an immutable release'
        })
      }
      release.assets.splice(release.assets.indexOf(asset), 1)
      return { status: 204 }
    },

    'repos/upload-release-asset': async ({ route, url, raw, res }) => {
      if (this.gate) {
        this.waitingUploads++
        await this.gate
        this.waitingUploads--
      }
      const release = this.findRelease(route.params.release_id as string)
      const name = url.searchParams.get('name') as string
      const faultAt = this.uploadFaults.findIndex(f => f.name === undefined || f.name === name)
      const fault = faultAt >= 0 ? this.uploadFaults.splice(faultAt, 1)[0]?.fault : undefined
      const contentType = String(raw.headers['content-type'])
      const length =
        raw.headers['content-length'] === undefined ? undefined : Number(raw.headers['content-length'])
      if (!release || this.locked(release) || release.assets.some(a => a.name === name) || !fault) {
        const received = await receive(raw)
        if (!release) return notFound(route)
        if (this.locked(release)) {
          return {
            status: 422,
            body: {
              message: 'Cannot upload assets to an immutable release.',
              documentation_url: docs(route),
              status: '422'
            }
          }
        }
        if (release.assets.some(a => a.name === name)) {
          return validationFailed(route, { resource: 'ReleaseAsset', code: 'already_exists', field: 'name' })
        }
        this.uploads.push({
          releaseId: release.id,
          name,
          contentType,
          contentLength: length,
          chunked: String(raw.headers['transfer-encoding'] ?? '').includes('chunked'),
          ...received
        })
        if (length !== received.bytes) {
          this.violations.push(`upload ${name}: Content-Length ${length} but ${received.bytes} bytes arrived`)
        }
        const asset = {
          ...this.newAsset(name, contentType, received.bytes, received.sha256),
          content: received.content
        }
        release.assets.push(asset)
        return { status: 201, body: this.assetJson(release, asset) }
      }
      const starter = (): void => {
        release.assets.push({
          ...this.newAsset(name, contentType, 0, sha256(Buffer.alloc(0))),
          state: 'starter'
        })
      }
      if (fault === 'already-exists') {
        await receive(raw)
        release.assets.push(
          this.newAsset(name, 'application/octet-stream', 9, sha256(Buffer.from('somebody')))
        )
        return validationFailed(route, { resource: 'ReleaseAsset', code: 'already_exists', field: 'name' })
      }
      if (fault === 'starter-502') {
        await receive(raw)
        starter()
        res.writeHead(502, { 'content-type': 'text/html' })
        res.end(
          '<html><body><h1>502 Bad Gateway</h1>The server returned an invalid or incomplete response.</body></html>'
        )
        return { status: 502, sent: true }
      }
      // reset: take part of the body, then drop the connection
      await new Promise<void>(resolve => {
        let seen = 0
        raw.on('data', (chunk: Buffer) => {
          seen += chunk.length
          if (seen >= Math.min(64 * 1024, (length ?? 0) / 2)) {
            raw.socket.destroy()
            resolve()
          }
        })
        raw.on('end', () => resolve())
        raw.on('close', () => resolve())
      })
      starter()
      return { status: 0, sent: true }
    }
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function notFound(route: Route): Reply {
  return { status: 404, body: { message: 'Not Found', documentation_url: docs(route), status: '404' } }
}

function validationFailed(route: Route, error: Record<string, string>): Reply {
  return {
    status: 422,
    body: { message: 'Validation Failed', errors: [error], documentation_url: docs(route), status: '422' }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return
  for await (const _ of req) void _
}

/** Hash and count an upload as it streams in, without keeping it. */
async function receive(req: IncomingMessage): Promise<{ bytes: number; sha256: string; content?: Buffer }> {
  const hash = createHash('sha256')
  let bytes = 0
  const kept: Buffer[] = []
  for await (const chunk of req) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
    if (bytes <= KEEP_CONTENT_BYTES) kept.push(chunk as Buffer)
  }
  return {
    bytes,
    sha256: hash.digest('hex'),
    content: bytes <= KEEP_CONTENT_BYTES ? Buffer.concat(kept) : undefined
  }
}

/** Uploads up to this size keep their bytes for downloads (manifests, SHA256SUMS); images don't. */
const KEEP_CONTENT_BYTES = 1024 * 1024
