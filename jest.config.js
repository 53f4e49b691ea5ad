// Two projects: fast unit tests (no root) and root tests that drive the built action on real
// loop devices, pacstrap and qemu-img. `npm test` runs both; `npm run test:unit` only the first.
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }]
}
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: tsJest,
  testEnvironment: 'node'
}
export default {
  verbose: true,
  globalTeardown: '<rootDir>/test/global-teardown.js',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/unit-timeout.js']
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // A scratch directory per run, where files share the stand-in cloud image (test/run-cache.ts).
      globalSetup: '<rootDir>/test/global-setup.js',
      slowTestThreshold: 600,
      // A 120 s default timeout per test (test/setup-timeout.js says why it is not `testTimeout` here).
      setupFilesAfterEnv: ['<rootDir>/test/setup-timeout.js']
    }
  ]
}
