import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharedTeardown from '../support/global-teardown';
import { FIGURES_DIR, type Figures, RUN_ID_ENV } from './figures';

/** The file test/run-all.mjs prints before its closing line, so the figures reach the CI log. */
export const SUMMARY_FILE = join(process.cwd(), '.tmp', 'reliability-summary.txt');

/** Sums the figures every reliability test file of this jest run recorded into the summary line. */
export function summaryLine(all: readonly Figures[]): string {
  const sum = (key: keyof Figures) => all.reduce((total, f) => total + f[key], 0);
  return (
    `reliability: records ${sum('records')}, lost ${sum('lost')}, duplicated effects ${sum('duplicatedEffects')}, ` +
    `malformed caught ${sum('malformedCaught')}/${sum('malformed')}, throttles survived ${sum('throttlesSurvived')}`
  );
}

export default async function globalTeardown(): Promise<void> {
  const prefix = `${process.env[RUN_ID_ENV] ?? 'unknown'}-`;
  const files = existsSync(FIGURES_DIR)
    ? readdirSync(FIGURES_DIR).filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    : [];
  if (files.length > 0) {
    const figures = files.map((f) => JSON.parse(readFileSync(join(FIGURES_DIR, f), 'utf8')) as Figures);
    const line = summaryLine(figures);
    writeFileSync(SUMMARY_FILE, `${line}\n`);
    process.stderr.write(`\n${line}\n`);
    for (const f of files) rmSync(join(FIGURES_DIR, f), { force: true });
  }
  // The DynamoDB Local of the run (shared with the integration project; stopping twice is harmless).
  await sharedTeardown();
}
