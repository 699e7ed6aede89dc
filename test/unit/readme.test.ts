import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { POLICY_DEFAULTS, PolicyOverridesSchema } from '../../functions/core/policy';

/** The README's configuration reference must say what the code does. */
describe('README configuration reference', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('## Configuration reference');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const rows = new Map(
    [...section.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)].map((m) => [
      m[1] as string,
      (m[2] as string).trim(),
    ]),
  );

  it.each(Object.entries(POLICY_DEFAULTS))('documents %s with its default %s', (field, value) => {
    expect(rows.get(field)).toBe(String(value));
  });

  it('documents every policy field and no other', () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(PolicyOverridesSchema.shape).sort());
  });
});
