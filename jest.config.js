/**
 * Three projects, told apart by where a spec lives and what it is named, never by a list to keep:
 *
 * - unit: the specs beside the code (apps/, libs/) except `*.int.spec.ts`. They need no service:
 *   their environment refuses a connection to Redis or Postgres and a chromium launch, so a spec
 *   that needs one fails here, loudly, and cannot sit in the unit set by mistake.
 *   `npm run test:unit` runs only these.
 * - integration: test/ and `*.int.spec.ts`, against the real local Redis and Postgres. Each file
 *   has its own schema and queue prefix (test/support/stack.ts), so files run in parallel.
 * - serial: test/faults/, which kill and restart processes (workers, a Postgres, a Redis of their
 *   own) and assert a fault hit while work was going: one file at a time, in a jest of
 *   their own beside the others (scripts/test-jest.sh).
 */
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^@amend/(contracts|pipeline|llm|store|constitution|audit|runtime|hub)$': '<rootDir>/libs/$1/src',
  },
};

const SERIAL = ['<rootDir>/test/faults/**/*.spec.ts'];

module.exports = {
  testTimeout: 120000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      roots: ['<rootDir>/apps', '<rootDir>/libs'],
      testMatch: ['**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.spec\\.ts$'],
      testEnvironment: '<rootDir>/test/support/jest/no-services-environment.ts',
    },
    {
      ...base,
      displayName: 'integration',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
      testMatch: ['<rootDir>/test/**/*.spec.ts', '**/*.int.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
    },
    {
      ...base,
      displayName: 'serial',
      roots: ['<rootDir>/test'],
      testMatch: SERIAL,
      runner: '<rootDir>/test/support/jest/serial-runner.ts',
    },
  ],
};
