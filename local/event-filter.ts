/**
 * Lambda event filtering, for local mode's pollers: the subset of the pattern syntax this project uses
 * (arrays of literal values, `{ exists: true|false }`, nested objects), with Lambda's semantics: every key
 * of the pattern must match; an array matches when any of its entries matches the value.
 */
type Pattern = { readonly [key: string]: Pattern | readonly Matcher[] };
type Matcher = string | number | boolean | null | { readonly exists: boolean };

function matchValue(matchers: readonly Matcher[], value: unknown, present: boolean): boolean {
  return matchers.some((m) => {
    if (m !== null && typeof m === 'object') return m.exists === present;
    return present && value === m;
  });
}

export function matchesFilter(pattern: Pattern, event: unknown): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const holder =
      event !== null && typeof event === 'object' ? (event as Record<string, unknown>) : undefined;
    const present = holder !== undefined && key in holder && holder[key] !== undefined;
    const value = holder?.[key];
    if (Array.isArray(expected)) {
      if (!matchValue(expected as readonly Matcher[], value, present)) return false;
    } else if (!present || !matchesFilter(expected as Pattern, value)) {
      // A nested pattern needs the object; only an { exists: false } leaf could match an absent key.
      if (!present && allowsAbsent(expected as Pattern)) continue;
      return false;
    }
  }
  return true;
}

function allowsAbsent(pattern: Pattern): boolean {
  return Object.values(pattern).every((expected) =>
    Array.isArray(expected)
      ? (expected as readonly Matcher[]).some(
          (m) => m !== null && typeof m === 'object' && m.exists === false,
        )
      : allowsAbsent(expected as Pattern),
  );
}
