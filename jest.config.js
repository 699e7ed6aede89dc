// Three kinds of tests, three projects (docs/CONVENTIONS.md, Tests): unit needs nothing, integration needs
// DynamoDB Local (started once per run by the global setup), infra synthesizes the CDK app. A fourth,
// reliability, is the fault and bad-input suite: the same DynamoDB Local (jest runs one global setup
// module once however many projects name it), and a teardown that prints the suite's figures. A fifth,
// chaos, breaks real servers under the whole local pipeline (a local stack per scenario, on the same DynamoDB
// Local: a table each) and prints a scenario × engine table.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};

// One id per jest run, inherited by its workers: the reliability files record their figures under it and
// the project's teardown sums only this run's.
process.env.REPLICA_SENTINEL_RELIABILITY_RUN ??= String(process.pid);
process.env.REPLICA_SENTINEL_CHAOS_RUN ??= String(process.pid);

// The chaos suite (issue 11): one file per scenario, test/chaos/<scenario>.test.ts, on real servers. A
// scenario runs in `npm test` once the behaviour it proves is built and it is listed here;
// REPLICA_SENTINEL_CHAOS_ALL=1 runs every scenario file (to see where the others stand).
const CHAOS_ENABLED = [
  'kill',
  'stall',
  'returning-primary',
  'isolated-primary',
  'lagging-candidate',
  'recovery-then-death',
  'repoint-resume',
  'frozen-primary',
  'frozen-replica',
  'restart-empty',
  'approve-after-return',
  'cooldown',
  'switchover',
];
const chaosFiles = process.env.REPLICA_SENTINEL_CHAOS_ALL
  ? ['<rootDir>/test/chaos/*.test.ts']
  : CHAOS_ENABLED.map((scenario) => `<rootDir>/test/chaos/${scenario}.test.ts`);

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
      displayName: 'chaos',
      testMatch: chaosFiles,
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/chaos/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'infra',
      testMatch: ['<rootDir>/test/infra/**/*.test.ts'],
    },
  ],
};
