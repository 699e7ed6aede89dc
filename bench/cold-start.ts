/**
 * `npm run bench -- cold-start [--runs N]`: the size and the import time of every Lambda bundle `cdk deploy`
 * uploads, ours beside the baseline's, built and measured in the same run (bench/README.md "cold-start").
 *
 * Both apps are synthesized with bundling (esbuild, as `cdk deploy` does it) from the example configuration
 * (every function: the probe, notify-slack, ingest-change-stream included): ours from this checkout, the
 * baseline from the sources of `COLD_START_BASELINE_COMMIT` (bench/baseline.ts). Each bundle is then imported
 * `runs` times, each time in a fresh `node` process with the environment its template gives the function
 * (`NODE_OPTIONS=--enable-source-maps` included, as in Lambda), ours and the baseline's taking turns; the
 * figure is the time from before `import()` of the bundle's `index.mjs` to its `handler` being ready (Lambda's
 * init phase minus the runtime's own start), median and p95 (nearest rank).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { filesReadAtInit } from '../infra/bundling';
import { type TemplateFunction, templateFunctions } from '../infra/template-functions';
import { baselineTree, REPO_ROOT } from './baseline';
import type { BenchRow } from './table';

/**
 * The baseline of this benchmark: the last commit before the cold-start work of issue 14 (every driver and
 * SDK client loaded at init), the bundles as they were built then.
 */
export const COLD_START_BASELINE_COMMIT = '13f380f';

const run = promisify(execFile);

/** Options of {@link benchColdStart}: `--runs N` (imports per bundle and side, default 15). */
function runsFrom(options: readonly string[]): number {
  const at = options.indexOf('--runs');
  if (at === -1) return 15;
  const runs = Number(options[at + 1]);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`--runs must be a positive integer, got '${options[at + 1] ?? ''}'`);
    process.exit(2);
  }
  return runs;
}

interface Built {
  readonly functions: TemplateFunction[];
  readonly tree: string;
  readonly outdir: string;
}

/** Synthesizes the app of the source tree `tree` with bundling into a temporary cloud assembly. */
async function synthesize(tree: string): Promise<Built> {
  const outdir = mkdtempSync(join(tmpdir(), 'replica-sentinel-cold-start-'));
  const { createApp } = (await import(pathToFileURL(join(tree, 'infra', 'build-app.ts')).href)) as {
    createApp: (options: { outdir: string; context: Record<string, unknown>; nag: boolean }) => {
      app: { synth(): unknown };
    };
  };
  const context = {
    region: 'eu-west-1',
    changeStreams: 'true',
    config: join(tree, 'examples', 'replica-sentinel.yaml'),
  };
  createApp({ outdir, context, nag: false }).app.synth();
  const templateFile = readdirSync(outdir).find((name) => name.endsWith('.template.json'));
  if (templateFile === undefined) throw new Error(`no template in ${outdir}`);
  const template: unknown = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8'));
  return { functions: templateFunctions(template, outdir, 'cold-start-table'), tree, outdir };
}

/** Bytes of all of a bundle's code: its JavaScript files (entry and chunks), without source maps. */
function bundleBytes(fn: TemplateFunction): number {
  let bytes = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(mjs|cjs|js)$/.test(entry.name)) bytes += statSync(path).size;
    }
  };
  walk(fn.assetDir);
  return bytes;
}

/** Bytes of the code a cold start reads (infra/bundling.ts `filesReadAtInit`). */
function initBytes(fn: TemplateFunction): number {
  return filesReadAtInit(fn.entry).reduce((sum, file) => sum + statSync(file).size, 0);
}

/** One import of a bundle: wall-clock and CPU (user + system) milliseconds. */
interface ImportTime {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** The script a fresh process runs: import the bundle, check its handler, print both times. */
const IMPORT_SCRIPT = (entryUrl: string) =>
  [
    'const t0 = performance.now();',
    'const c0 = process.cpuUsage();',
    `const m = await import(${JSON.stringify(entryUrl)});`,
    'const wallMs = performance.now() - t0;',
    'const cpu = process.cpuUsage(c0);',
    "if (typeof m.handler !== 'function') { console.error('no handler'); process.exit(3); }",
    "process.stdout.write('\\nCOLD-START ' + JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\\n');",
  ].join('\n');

/** Milliseconds from `import()` of the bundle to its handler, in a fresh Node.js process. */
async function importTime(fn: TemplateFunction, tree: string): Promise<ImportTime> {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', IMPORT_SCRIPT(pathToFileURL(fn.entry).href)],
    {
      env: {
        PATH: process.env.PATH,
        ...fn.env,
        // The probe's configuration file comes in a layer (/opt/…) in AWS: here, the one it was synthesized from.
        ...(fn.env.CLUSTER_CONFIG_FILE === undefined
          ? {}
          : { CLUSTER_CONFIG_FILE: join(tree, 'examples', 'replica-sentinel.yaml') }),
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_LAMBDA_FUNCTION_NAME: fn.service,
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.service}`,
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      timeout: 120_000,
      maxBuffer: 16 << 20,
    },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('COLD-START '));
  if (line === undefined) throw new Error(`${fn.service}: the bundle did not report its import time`);
  return JSON.parse(line.slice('COLD-START '.length)) as ImportTime;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Nearest-rank p95: with fewer than 20 runs, the slowest. */
function p95(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? 0;
}

export async function benchColdStart(options: readonly string[]): Promise<BenchRow[]> {
  const runs = runsFrom(options);
  const built: Built[] = [];
  try {
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(', ');
    console.error(`cold-start: load average ${load()}; synthesizing ours and the baseline with bundling …`);
    built.push(await synthesize(REPO_ROOT));
    built.push(await synthesize(baselineTree(COLD_START_BASELINE_COMMIT)));
    const [ours, baseline] = built as [Built, Built];
    const rows: BenchRow[] = [];
    const label = `baseline: ${COLD_START_BASELINE_COMMIT}`;
    for (const fn of [...ours.functions].sort((a, b) => a.service.localeCompare(b.service))) {
      const base = baseline.functions.find((b) => b.service === fn.service);
      if (base === undefined) {
        console.error(`cold-start: ${fn.service} has no baseline bundle; skipped`);
        continue;
      }
      const oursTimes: ImportTime[] = [];
      const baseTimes: ImportTime[] = [];
      for (let i = 0; i < runs; i++) {
        oursTimes.push(await importTime(fn, ours.tree));
        baseTimes.push(await importTime(base, baseline.tree));
      }
      const wall = (times: ImportTime[]) => times.map((t) => t.wallMs);
      const cpu = (times: ImportTime[]) => times.map((t) => t.cpuMs);
      const scenario = `${fn.service} (${label})`;
      rows.push(
        {
          benchmark: 'cold-start',
          scenario,
          metric: 'bytes read at init',
          ours: initBytes(fn),
          baseline: initBytes(base),
          better: 'lower',
        },
        {
          benchmark: 'cold-start',
          scenario,
          metric: 'bundle bytes (all chunks)',
          ours: bundleBytes(fn),
          baseline: bundleBytes(base),
          better: 'lower',
        },
        {
          benchmark: 'cold-start',
          scenario,
          metric: `import ms (median of ${runs})`,
          ours: median(wall(oursTimes)),
          baseline: median(wall(baseTimes)),
          better: 'lower',
        },
        {
          benchmark: 'cold-start',
          scenario,
          metric: 'import ms (p95)',
          ours: p95(wall(oursTimes)),
          baseline: p95(wall(baseTimes)),
          better: 'lower',
        },
        {
          benchmark: 'cold-start',
          scenario,
          metric: 'import CPU ms (median)',
          ours: median(cpu(oursTimes)),
          baseline: median(cpu(baseTimes)),
          better: 'lower',
        },
      );
      console.error(`cold-start: ${fn.service} done (load average ${load()})`);
    }
    return rows;
  } finally {
    for (const b of built) rmSync(b.outdir, { recursive: true, force: true });
  }
}
