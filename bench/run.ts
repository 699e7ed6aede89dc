/**
 * `npm run bench [-- name...]`: runs the named benchmarks (all by default) and prints one table of
 * ratios against the naive baselines measured in the same run. See bench/README.md.
 */
import { benchIngest } from './ingest';
import { benchSweep } from './sweep';
import { type BenchRow, printTable } from './table';

const BENCHMARKS: Record<string, () => Promise<BenchRow[]>> = { ingest: benchIngest, sweep: benchSweep };

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(BENCHMARKS).join(', ')})`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
  const run = BENCHMARKS[name];
  if (run) rows.push(...(await run()));
}
printTable(rows);
