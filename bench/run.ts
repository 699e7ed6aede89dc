/**
 * `npm run bench [-- name... [--option value...]]`: runs the named benchmarks (all by default) and prints
 * one table of ratios against the baselines measured in the same run. Options (e.g. `--runs 3`) go to the
 * benchmarks that take them. See bench/README.md.
 */
import { benchColdStart } from './cold-start';
import { benchDetection } from './detection';
import { benchIngest } from './ingest';
import { benchSweep } from './sweep';
import { benchSwitchover } from './switchover';
import { type BenchRow, printTable } from './table';

const BENCHMARKS: Record<string, (options: readonly string[]) => Promise<BenchRow[]>> = {
  ingest: benchIngest,
  sweep: benchSweep,
  detection: benchDetection,
  switchover: benchSwitchover,
  'cold-start': benchColdStart,
};

const argv = process.argv.slice(2);
const firstOption = argv.findIndex((arg) => arg.startsWith('--'));
const requested = firstOption === -1 ? argv : argv.slice(0, firstOption);
const options = firstOption === -1 ? [] : argv.slice(firstOption);
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(BENCHMARKS).join(', ')})`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
  const run = BENCHMARKS[name];
  if (run) rows.push(...(await run(options)));
}
printTable(rows);
