import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

/**
 * The functions import zod as a namespace (`import * as z from 'zod'`): a named import makes esbuild keep
 * zod's locales, about 360 KB of every bundle read at each cold start (bench/README.md, cold-start).
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'functions');

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

describe('zod in the functions', () => {
  it('is imported as a namespace everywhere', () => {
    const named = sources(ROOT).filter((file) =>
      /import\s*\{[^}]*\}\s*from\s*'zod'/.test(readFileSync(file, 'utf8')),
    );
    expect(named).toEqual([]);
    expect(sources(ROOT).length).toBeGreaterThan(50);
  });
});
