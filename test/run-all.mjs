// Runs every jest project once (unit, integration, reliability, chaos, infra), then prints the reliability
// and chaos suites' summary lines (written by their global teardowns) and the closing line CI counts:
// "N passed, N failed".
// Exits with jest's own exit code.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('.tmp', { recursive: true });
const resultsFile = '.tmp/test-results.json';
const reliabilitySummary = '.tmp/reliability-summary.txt';
const chaosSummary = '.tmp/chaos-summary.txt';
rmSync(reliabilitySummary, { force: true });
rmSync(chaosSummary, { force: true });
const jest = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    'node_modules/jest/bin/jest.js',
    '--json',
    `--outputFile=${resultsFile}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } },
);
let passed = 0;
let failed = 0;
try {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
} catch (error) {
  console.error(`could not read jest results from ${resultsFile}: ${error.message}`);
  failed = Math.max(failed, 1);
}
for (const summary of [reliabilitySummary, chaosSummary]) {
  if (existsSync(summary)) process.stdout.write(readFileSync(summary, 'utf8'));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(jest.status ?? 1);
