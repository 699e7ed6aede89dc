/**
 * The baseline the benchmarks compare against: the sources of commit `BASELINE_COMMIT` (before the cost
 * work of issue 14), extracted with `git archive` into `<os tmpdir>/replica-sentinel-baseline-<commit>` (once;
 * kept for the next run; outside the checkout, so that jest never sees its tests) with this checkout's node_modules linked in, so that `npm run sizing` and `npm run bench -- cold-start`
 * measure today's code and the baseline's in the same run, on the same machine (cold-start extracts its own
 * commit, `COLD_START_BASELINE_COMMIT` in bench/cold-start.ts, the same way).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASELINE_COMMIT = 'f6d165e';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The directory holding the baseline's sources (extracted on first use). */
export function baselineTree(commit = BASELINE_COMMIT): string {
  const dir = join(tmpdir(), `replica-sentinel-baseline-${commit}`);
  const marker = join(dir, '.extracted');
  if (existsSync(marker)) {
    // Kept from an earlier run, maybe of another checkout (since removed): link this checkout's modules.
    linkModules(dir);
    return dir;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', commit], {
    cwd: REPO_ROOT,
    maxBuffer: 1 << 30,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  linkModules(dir);
  writeFileSync(marker, `${commit}\n`);
  return dir;
}

/** Points the baseline tree's node_modules at this checkout's. */
function linkModules(dir: string): void {
  const link = join(dir, 'node_modules');
  const target = join(REPO_ROOT, 'node_modules');
  if (lstatOrUndefined(link) !== undefined && readlinkSync(link) === target) return;
  rmSync(link, { recursive: true, force: true });
  symlinkSync(target, link);
}

const lstatOrUndefined = (path: string) => {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
};
