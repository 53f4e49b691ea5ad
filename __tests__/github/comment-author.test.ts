// Whose marked comment the preview may edit: the token's own account only (src/github/comment-author.ts),
// and GET /user through the real octokit against the fake GitHub (a user token, an installation token).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ACTIONS_BOT, tokenAuthor, writtenBy } from '../../src/github/comment-author.js'
import { createGitHubRepo, type IssueComment } from '../../src/github/repo.js'
import { FakeGitHub } from '../../test/fakes/github.js'

const comment = (author: IssueComment['author']): IssueComment => ({
  id: 1,
  body: '<!-- arch-image preview: arch-cloud -->',
  htmlUrl: 'https://github.com/o/r/pull/1#issuecomment-1',
  author
})

describe('writtenBy', () => {
  it('accepts only the same login and account type', () => {
    const octocat = { login: 'octocat', type: 'User' }
    expect(writtenBy(comment(octocat), octocat)).toBe(true)
    expect(writtenBy(comment({ login: 'mallory', type: 'User' }), octocat)).toBe(false)
    expect(writtenBy(comment({ login: 'octocat', type: 'Bot' }), octocat)).toBe(false)
    expect(writtenBy(comment(undefined), octocat)).toBe(false)
  })

  it('takes the GitHub Actions bot for a token GET /user refuses, and nobody else', () => {
    const author = tokenAuthor(undefined)
    expect(author).toEqual({ login: 'github-actions[bot]', type: 'Bot' })
    expect(writtenBy(comment(ACTIONS_BOT), author)).toBe(true)
    // A user whose login looks like the bot's is not the bot (GitHub logins cannot contain brackets).
    expect(writtenBy(comment({ login: 'github-actions[bot]', type: 'User' }), author)).toBe(false)
    expect(writtenBy(comment({ login: 'dependabot[bot]', type: 'Bot' }), author)).toBe(false)
    expect(writtenBy(comment({ login: 'github-actions', type: 'User' }), author)).toBe(false)
  })
})

describe('authenticatedUser against the fake GitHub', () => {
  let fake: FakeGitHub
  beforeAll(async () => {
    fake = await FakeGitHub.start({ users: { 'user-token': 'octocat' } })
    fake.tokens['user-token'] = 'write'
  })
  afterAll(async () => {
    await fake.close()
  })
  const repo = (token: string) =>
    createGitHubRepo({ token, repository: fake.repository, baseUrl: fake.apiUrl }).authenticatedUser()

  it("names a user token's user", async () => {
    await expect(repo('user-token')).resolves.toEqual({ login: 'octocat', type: 'User' })
  })

  it('is undefined for an installation token (GET /user answers 403)', async () => {
    await expect(repo('write-token')).resolves.toBeUndefined()
  })

  it('fails for a token GitHub does not know', async () => {
    await expect(repo('no-such-token')).rejects.toThrow(/GET \/user.*401|401.*GET \/user/s)
    expect(fake.violations).toEqual([])
  })
})
