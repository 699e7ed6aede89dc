/**
 * What the configuration rules work on: the parsed YAML before validation (malformed anywhere, so every
 * access is guarded) and an issue found at a path in it, located in the file by parse.ts.
 */

export type Path = (string | number)[];

export interface PathIssue {
  readonly severity: 'error' | 'warning';
  readonly path: Path;
  readonly message: string;
  /** Locate the problem at the key itself (unknown keys) rather than at its value. */
  readonly at?: 'key' | 'value';
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
