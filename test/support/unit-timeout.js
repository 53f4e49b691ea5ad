// The unit tests' per-test timeout. Some run real commands (gpg, gpgv, stat, sh through the exec
// seam) that take seconds on a loaded 2-core machine: jest's 5 s default failed tests that were only
// slow. A project's `testTimeout` in jest.config.js is ignored (jest-circus reads only the global one).
import { jest } from '@jest/globals'

jest.setTimeout(30_000)
