// Whose comment the action may edit. The preview comment is found again by a hidden marker, which
// anyone can put in a comment of their own: only a marked comment written by the token's own identity
// is ours. The identity is GET /user's login for a user token; the workflow's GITHUB_TOKEN (an
// installation token) is refused by GET /user and posts as the GitHub Actions app's bot. A comment by
// anyone else is never edited: another one is posted instead.
import type { Account, IssueComment } from './repo.js'

/** The account the workflow's GITHUB_TOKEN comments as. */
export const ACTIONS_BOT: Account = { login: 'github-actions[bot]', type: 'Bot' }

/** Whom the token comments as, from GET /user's answer (undefined: refused, an installation token). */
export function tokenAuthor(user: Account | undefined): Account {
  return user ?? ACTIONS_BOT
}

/** Whether `comment` was written by `author` (same login and account type; a deleted account is no one). */
export function writtenBy(comment: IssueComment, author: Account): boolean {
  return comment.author?.login === author.login && comment.author.type === author.type
}
