import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Kept free of jest imports: the project's global teardown (outside the test environment) reads these.

/** One test file's contribution to the suite's summary line. */
export interface Figures {
  records: number;
  lost: number;
  duplicatedEffects: number;
  malformed: number;
  malformedCaught: number;
  throttlesSurvived: number;
}

export const FIGURES_DIR = join(process.cwd(), '.tmp', 'reliability');

/** Set by jest.config.js once per jest run (its workers inherit it). */
export const RUN_ID_ENV = 'REPLICA_SENTINEL_RELIABILITY_RUN';

/**
 * Writes this file's figures where the project's global teardown collects them, under the jest run's id,
 * so two runs in one checkout do not mix their figures.
 */
export function recordFigures(name: string, figures: Figures): void {
  const run = process.env[RUN_ID_ENV] ?? 'unknown';
  mkdirSync(FIGURES_DIR, { recursive: true });
  writeFileSync(join(FIGURES_DIR, `${run}-${name}.json`), JSON.stringify(figures));
}
