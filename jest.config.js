// Three kinds of tests, three projects (STYLE.md §12): unit needs nothing, integration needs
// DynamoDB Local (started once per run by the global setup), infra synthesizes the CDK app. A fourth,
// reliability, is the fault and bad-input suite: the same DynamoDB Local (jest runs one global setup
// module once however many projects name it), and a teardown that prints the suite's figures.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};

// One id per jest run, inherited by its workers: the reliability files record their figures under it and
// the project's teardown sums only this run's.
process.env.REPLICA_SENTINEL_RELIABILITY_RUN ??= String(process.pid);

export default {
  // Integration tests load 10,000-node fleets into DynamoDB Local; infra tests bundle functions.
  testTimeout: 180000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/reliability/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'infra',
      testMatch: ['<rootDir>/test/infra/**/*.test.ts'],
    },
  ],
};
