/**
 * The options the benches on real servers share: `--runs N` (default 5) and `--engine E` (one of the bench's
 * engines; all of them when absent). A bad value is an error naming the option.
 */
import { parseArgs } from 'node:util';

const BENCH_ENGINES = ['redis', 'postgresql'] as const;
type BenchEngine = (typeof BENCH_ENGINES)[number];

export function runsAndEngines(args: readonly string[]): { runs: number; engines: readonly BenchEngine[] } {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: { runs: { type: 'string' }, engine: { type: 'string' } },
  });
  const runs = Number(values.runs ?? 5);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs: '${values.runs}' is not a positive integer`);
  const engines =
    values.engine === undefined ? BENCH_ENGINES : BENCH_ENGINES.filter((e) => e === values.engine);
  if (engines.length === 0)
    throw new Error(`--engine: '${values.engine}' is not one of ${BENCH_ENGINES.join(', ')}`);
  return { runs, engines };
}
