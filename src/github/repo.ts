// The other GitHub calls the action makes, next to the Releaser: every release of the repository and
// the tags of the published ones (for the PR cleanup), the latest release's manifest (for the package
// diff) and one PR comment.
import { repositoryClient } from './octokit.js'
import { apiError, call, toRelease, type RawRelease } from './octokit-releaser.js'
import { ReleaseApiError, type Release, type ReleaseAsset } from './releaser.js'

/** Who wrote a comment, or whom a token acts as: a login and GitHub's account type (`User`, `Bot`). */
export interface Account {
  login: string
  type: string
}

export interface IssueComment {
  id: number
  body: string
  htmlUrl: string
  /** Undefined for a deleted account's comment. */
  author: Account | undefined
}

export interface GitHubRepo {
  /** Every release, drafts included (they are listed to a token that can push). */
  listReleases(): Promise<Release[]>
  deleteRelease(releaseId: number): Promise<void>
  /**
   * Delete the git tag `tag` (refs/tags/<tag>): true when it was deleted, false when it did not exist.
   * Deleting a published release leaves its tag behind; this is what removes it.
   */
  deleteTag(tag: string): Promise<boolean>
  /** The repository's latest release (published, not a prerelease), or undefined. */
  latestRelease(): Promise<Release | undefined>
  downloadAsset(asset: ReleaseAsset): Promise<Buffer>
  /**
   * GET /user: the user a token acts as, or undefined when GitHub refuses the call with 403, as it does
   * for an installation token (the workflow's GITHUB_TOKEN).
   */
  authenticatedUser(): Promise<Account | undefined>
  listComments(issue: number): Promise<IssueComment[]>
  createComment(issue: number, body: string): Promise<IssueComment>
  updateComment(commentId: number, body: string): Promise<IssueComment>
}

export interface GitHubRepoOptions {
  token: string
  /** `owner/name`, as in GITHUB_REPOSITORY. */
  repository: string
  baseUrl?: string
}

interface RawComment {
  id: number
  body?: string
  html_url: string
  user?: { login: string; type: string } | null
}

const toComment = (raw: RawComment): IssueComment => ({
  id: raw.id,
  body: raw.body ?? '',
  htmlUrl: raw.html_url,
  author: raw.user ? { login: raw.user.login, type: raw.user.type } : undefined
})

export function createGitHubRepo(options: GitHubRepoOptions): GitHubRepo {
  const { octokit, where } = repositoryClient(options.token, options.repository, options.baseUrl)

  return {
    async listReleases() {
      const releases = await call('list releases', () =>
        octokit.paginate(octokit.rest.repos.listReleases, { ...where, per_page: 100 })
      )
      return (releases as RawRelease[]).map(toRelease)
    },

    async deleteRelease(releaseId) {
      await call('delete release', () =>
        octokit.rest.repos.deleteRelease({ ...where, release_id: releaseId })
      )
    },

    async deleteTag(tag) {
      try {
        await call(`delete the tag ${tag}`, () =>
          octokit.rest.git.deleteRef({ ...where, ref: `tags/${tag}` })
        )
        return true
      } catch (error) {
        // GitHub answers 422 "Reference does not exist" for a tag that is already gone
        if (
          error instanceof ReleaseApiError &&
          error.status === 422 &&
          /reference does not exist/i.test(error.text)
        ) {
          return false
        }
        throw error
      }
    },

    async latestRelease() {
      try {
        const { data } = await octokit.rest.repos.getLatestRelease(where)
        return toRelease(data as RawRelease)
      } catch (error) {
        if ((error as { status?: unknown }).status === 404) return undefined
        throw apiError('get the latest release', error)
      }
    },

    async downloadAsset(asset) {
      // The API answers application/octet-stream with a redirect to the file, which fetch follows.
      const { data } = await call(`download ${asset.name}`, () =>
        octokit.rest.repos.getReleaseAsset({
          ...where,
          asset_id: asset.id,
          headers: { accept: 'application/octet-stream' }
        })
      )
      return Buffer.from(data as unknown as ArrayBuffer)
    },

    async authenticatedUser() {
      try {
        const { data } = await octokit.rest.users.getAuthenticated()
        return { login: data.login, type: data.type }
      } catch (error) {
        if ((error as { status?: unknown }).status === 403) return undefined
        throw apiError("find the token's user (GET /user)", error)
      }
    },

    async listComments(issue) {
      const comments = await call('list pull request comments', () =>
        octokit.paginate(octokit.rest.issues.listComments, { ...where, issue_number: issue, per_page: 100 })
      )
      return (comments as RawComment[]).map(toComment)
    },

    async createComment(issue, body) {
      const { data } = await call('create the pull request comment', () =>
        octokit.rest.issues.createComment({ ...where, issue_number: issue, body })
      )
      return toComment(data as RawComment)
    },

    async updateComment(commentId, body) {
      const { data } = await call('update the pull request comment', () =>
        octokit.rest.issues.updateComment({ ...where, comment_id: commentId, body })
      )
      return toComment(data as RawComment)
    }
  }
}
