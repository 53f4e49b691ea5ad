// The integration tests' default per-test timeout. A project's `testTimeout` in jest.config.js is
// ignored (jest-circus reads only the global one), and a global one would give unit tests 120 s to hang.
import { jest } from '@jest/globals'

// Every step here talks to real services (Keystone, Glance, the openstack CLI, qemu) that take
// seconds on a loaded 2-core runner: jest's 5 s default failed tests that were only slow.
jest.setTimeout(120_000)
