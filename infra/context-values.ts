/**
 * Readers of one context value (`-c key=value` of the CDK CLI, or a value from cdk.json), each validating it:
 * absent is undefined, malformed an error that names the context value and what it must be.
 */

/**
 * A non-empty list of strings matching `pattern`: a comma-separated string (`-c key=a,b`) or, from
 * cdk.json, an array. Undefined when absent; else an error naming `key`.
 */
export function listOf(key: string, value: unknown, pattern: RegExp, expected: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items =
    typeof value === 'string'
      ? value.split(',').map((item) => item.trim())
      : Array.isArray(value)
        ? value.map((item: unknown) => (typeof item === 'string' ? item.trim() : item))
        : [value];
  const valid = items.filter((item): item is string => typeof item === 'string' && pattern.test(item));
  if (items.length === 0 || valid.length < items.length) {
    const bad = items.filter((item) => typeof item !== 'string' || !pattern.test(item));
    throw new Error(
      `context value ${key} must be ${expected}; got ${JSON.stringify(value)}` +
        (bad.length > 0 ? ` (not valid: ${bad.map((item) => JSON.stringify(item)).join(', ')})` : ''),
    );
  }
  return [...new Set(valid)];
}

export function booleanFrom(key: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context value ${key} must be true or false; got ${JSON.stringify(value)}`);
}

/** `value` when it is a string matching `pattern`; undefined when absent; else an error naming `key`. */
export function matching(key: string, value: unknown, pattern: RegExp, expected: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`context value ${key} must be ${expected}; got ${JSON.stringify(value)}`);
  }
  return value;
}
