// Runs every jest project once, then prints the reliability and chaos suites' summary lines (written by
// their global teardowns) and the closing line CI counts: "N passed, N failed". Exits non-zero if any
// jest run failed.
//
// Two jest runs: unit, integration, reliability and infra first, then the chaos suite alone in a fresh
// process with its own DynamoDB Local. The chaos scenarios time a live pipeline against a 3 s heartbeat
// timeout; sharing a process (and a DynamoDB Local) that has just loaded 10,000-node fleets slowed them
// enough to miss it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('.tmp', { recursive: true });
const reliabilitySummary = '.tmp/reliability-summary.txt';
const chaosSummary = '.tmp/chaos-summary.txt';
rmSync(reliabilitySummary, { force: true });
rmSync(chaosSummary, { force: true });

const extra = process.argv.slice(2);
const runs = [
  { name: 'main', args: ['--selectProjects', 'unit', 'integration', 'reliability', 'infra'] },
  { name: 'chaos', args: ['--selectProjects', 'chaos'] },
];

let passed = 0;
let failed = 0;
let status = 0;
for (const run of runs) {
  const resultsFile = `.tmp/test-results-${run.name}.json`;
  rmSync(resultsFile, { force: true });
  const jest = spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      'node_modules/jest/bin/jest.js',
      '--json',
      `--outputFile=${resultsFile}`,
      ...run.args,
      ...extra,
    ],
    { stdio: 'inherit', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } },
  );
  if ((jest.status ?? 1) !== 0) status = jest.status ?? 1;
  try {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    passed += results.numPassedTests;
    failed += results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  } catch (error) {
    console.error(`could not read jest results from ${resultsFile}: ${error.message}`);
    failed += 1;
  }
}
for (const summary of [reliabilitySummary, chaosSummary]) {
  if (existsSync(summary)) process.stdout.write(readFileSync(summary, 'utf8'));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(status);
