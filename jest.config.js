/** Tests run against the real local Redis and Postgres; each file uses its own queue prefix and schema. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^@amend/(contracts|pipeline|llm|store|constitution|audit|runtime)$': '<rootDir>/libs/$1/src',
  },
  testTimeout: 120000,
};
