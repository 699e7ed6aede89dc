import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharedTeardown from '../support/global-teardown';
import {
  RESULTS_DIR,
  RUN_ID_ENV,
  resultTable,
  type ScenarioResult,
  SUMMARY_FILE,
  summaryLine,
} from './support/results';

/**
 * Prints the chaos suite's scenario × engine table and its summary line (written for test/run-all.mjs to
 * repeat), from the results every scenario of this jest run recorded; then stops the run's DynamoDB Local.
 */
export default async function globalTeardown(): Promise<void> {
  const prefix = `${process.env[RUN_ID_ENV] ?? 'unknown'}-`;
  const files = existsSync(RESULTS_DIR)
    ? readdirSync(RESULTS_DIR).filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    : [];
  if (files.length > 0) {
    const results = files.map(
      (f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as ScenarioResult,
    );
    const line = summaryLine(results);
    writeFileSync(SUMMARY_FILE, `${line}\n`);
    process.stderr.write(`\n${resultTable(results)}\n\n${line}\n`);
    for (const f of files) rmSync(join(RESULTS_DIR, f), { force: true });
  }
  // The run's DynamoDB Local (shared with the other projects; stopping twice is harmless).
  await sharedTeardown();
}
