import { describe, expect, it } from '@jest/globals'
import { repositoryClient, workflowRepository } from '../../src/github/octokit.js'

describe('workflowRepository', () => {
  it('is GITHUB_REPOSITORY, or an error naming what needed it', () => {
    expect(workflowRepository('a release', { GITHUB_REPOSITORY: 'octo/images' })).toBe('octo/images')
    expect(() => workflowRepository('a release', {})).toThrow(
      'GITHUB_REPOSITORY is not set: a release needs the owner/name of the repository'
    )
  })
})

describe('repositoryClient', () => {
  it('splits owner/name and refuses anything else', () => {
    expect(repositoryClient('t', 'octo/images', 'http://127.0.0.1:1/').where).toEqual({
      owner: 'octo',
      repo: 'images'
    })
    for (const bad of ['octo', 'octo/images/x', '/images', 'octo/'])
      expect(() => repositoryClient('t', bad)).toThrow(
        `repository must be owner/name, got ${JSON.stringify(bad)}`
      )
  })
  it('talks to the given API root without a trailing slash', () => {
    const { octokit } = repositoryClient('t', 'octo/images', 'http://127.0.0.1:1/api/v3/')
    expect(octokit.request.endpoint.DEFAULTS.baseUrl).toBe('http://127.0.0.1:1/api/v3')
  })
})
