import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (holds package.json, package-lock.json, tsconfig.json, functions/). */
export const REPO_ROOT: string = fileURLToPath(new URL('..', import.meta.url));

/** Lock file esbuild bundling resolves dependencies against (the versions the tests ran with). */
export const LOCK_FILE: string = join(REPO_ROOT, 'package-lock.json');

/**
 * Entry file of one Lambda function: `functions/<name>/index.ts`, which exports `handler`.
 *
 * @example
 * functionEntry('ingest-heartbeat'); // <repo>/functions/ingest-heartbeat/index.ts
 */
export function functionEntry(name: string): string {
  return join(REPO_ROOT, 'functions', name, 'index.ts');
}
