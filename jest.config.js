// Three projects so CI can run them in stages: pure logic (fast, parallel), integration tests that
// start real processes or touch the kernel (`*.itest.ts`, serial), and end-to-end suites against a
// running `k8ts server` built from this checkout (`test/e2e`, serial).
const transform = {
  '^.+\\.ts$': ['@swc/jest', {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022', experimental: { keepImportAttributes: true } },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  }],
};
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/test/'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/**/*.itest.ts'], testPathIgnorePatterns: ['/node_modules/', '/dist/'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
