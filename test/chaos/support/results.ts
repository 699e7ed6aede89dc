import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Kept free of jest imports: the project's global teardown (outside the test environment) reads these.

/** One scenario on one engine, as the suite's table and summary line count it. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly engine: string;
  readonly passed: boolean;
  /** Writes the servers acknowledged to the writer. */
  readonly acked: number;
  /** Acknowledged writes made before the fault missing on the final primary, not stated at risk. */
  readonly lost: number;
  readonly seconds: number;
  /** One line: what happened, or why it failed. */
  readonly note: string;
}

export const RESULTS_DIR = join(process.cwd(), '.tmp', 'chaos');

/** Where a failed scenario leaves its timeline (everything the stack and watch printed, timed). */
export const LOGS_DIR = join(process.cwd(), '.tmp', 'chaos-logs');

/** The file test/run-all.mjs prints before its closing line, so the figures reach the CI log. */
export const SUMMARY_FILE = join(process.cwd(), '.tmp', 'chaos-summary.txt');

/** Set by jest.config.js once per jest run (its workers inherit it). */
export const RUN_ID_ENV = 'REPLICA_SENTINEL_CHAOS_RUN';

/** Writes one scenario's result where the global teardown collects it, under the jest run's id. */
export function recordResult(result: ScenarioResult): void {
  const run = process.env[RUN_ID_ENV] ?? 'unknown';
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${run}-${result.scenario}-${result.engine}.json`), JSON.stringify(result));
}

/** `chaos: scenarios N, passed N, failed N, acknowledged writes W, lost L`. */
export function summaryLine(results: readonly ScenarioResult[]): string {
  const passed = results.filter((r) => r.passed).length;
  const sum = (key: 'acked' | 'lost') => results.reduce((total, r) => total + r[key], 0);
  return (
    `chaos: scenarios ${results.length}, passed ${passed}, failed ${results.length - passed}, ` +
    `acknowledged writes ${sum('acked')}, lost ${sum('lost')}`
  );
}

/** The scenario × engine table: one row per scenario, one column per engine, then the notes. */
export function resultTable(results: readonly ScenarioResult[]): string {
  const engines = [...new Set(results.map((r) => r.engine))].sort(
    (a, b) => ['redis', 'postgresql', 'mariadb'].indexOf(a) - ['redis', 'postgresql', 'mariadb'].indexOf(b),
  );
  const scenarios = [...new Set(results.map((r) => r.scenario))].sort();
  const width = Math.max(8, ...scenarios.map((s) => s.length));
  const cell = (r: ScenarioResult | undefined) =>
    (r === undefined ? '-' : `${r.passed ? 'pass' : 'FAIL'} ${r.acked}w/${r.lost}l ${r.seconds}s`).padEnd(22);
  const lines = [`${'scenario'.padEnd(width)}  ${engines.map((e) => e.padEnd(22)).join('')}`];
  for (const scenario of scenarios) {
    const row = engines.map((engine) =>
      cell(results.find((r) => r.scenario === scenario && r.engine === engine)),
    );
    lines.push(`${scenario.padEnd(width)}  ${row.join('')}`.trimEnd());
  }
  const notes = results.filter((r) => !r.passed || r.note !== '');
  if (notes.length > 0) {
    lines.push('');
    for (const r of notes) lines.push(`${r.scenario}/${r.engine}: ${r.note}`);
  }
  return lines.join('\n');
}
