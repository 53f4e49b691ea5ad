// One way to reach the GitHub API: which repository (GITHUB_REPOSITORY, owner/name) and an octokit
// for the token at GITHUB_API_URL (GHES), or api.github.com.
import { getOctokit } from '@actions/github'

export type Octokit = ReturnType<typeof getOctokit>

/** The workflow's repository, or an error saying what needed it. */
export function workflowRepository(purpose: string, env: NodeJS.ProcessEnv = process.env): string {
  const repository = env.GITHUB_REPOSITORY
  if (!repository)
    throw new Error(`GITHUB_REPOSITORY is not set: ${purpose} needs the owner/name of the repository`)
  return repository
}

export interface RepositoryClient {
  octokit: Octokit
  /** `{ owner, repo }`, as every repository endpoint takes them. */
  where: { owner: string; repo: string }
}

export function repositoryClient(token: string, repository: string, baseUrl?: string): RepositoryClient {
  const [owner, repo, ...rest] = repository.split('/')
  if (!owner || !repo || rest.length > 0) {
    throw new Error(`repository must be owner/name, got ${JSON.stringify(repository)}`)
  }
  const api = (baseUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, '')
  return { octokit: getOctokit(token, { baseUrl: api }), where: { owner, repo } }
}
