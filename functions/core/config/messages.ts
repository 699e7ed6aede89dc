/**
 * Messages: zod's issues in the words of the configuration file (never quoting a long value: it may hold a
 * secret), and for an unknown key, the field that was probably meant.
 */

import * as z from 'zod';
import { isRecord } from './raw-input';

/** Says what a value is without quoting anything long (a value may hold a secret). */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value.length <= 40 ? `the string "${value}"` : 'a string';
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** zod's default messages in the words of this file (schema-level messages take precedence). */
export function defaultMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required field is missing';
      if (iss.input === null) return `is empty: must be ${EXPECTED[iss.expected] ?? iss.expected}`;
      return `must be ${EXPECTED[iss.expected] ?? iss.expected}, not ${describe(iss.input)}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}, not ${describe(iss.input)}`;
    case 'invalid_union':
      if ('discriminator' in iss && Array.isArray(iss.options)) {
        const given = isRecord(iss.input) ? iss.input[String(iss.discriminator)] : undefined;
        if (given === undefined)
          return `required field is missing (one of ${iss.options.map(String).join(', ')})`;
        return `must be one of ${iss.options.map(String).join(', ')}, not ${describe(given)}`;
      }
      return undefined;
    case 'too_small': {
      const limit = String(iss.minimum);
      if (iss.origin === 'array') return `needs at least ${limit} item${limit === '1' ? '' : 's'}`;
      if (iss.origin === 'string') return 'must not be empty';
      return iss.inclusive ? `must be at least ${limit}` : `must be greater than ${limit}`;
    }
    case 'too_big': {
      const limit = String(iss.maximum);
      return iss.inclusive ? `must be at most ${limit}` : `must be less than ${limit}`;
    }
    case 'invalid_format':
      return 'has the wrong format';
    default:
      return undefined;
  }
}

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const typed = key.toLowerCase();
  // A typo (a few letters off) or a shortened name (`heartbeatTimeout` for `heartbeatTimeoutSeconds`).
  const near = known
    .map((candidate) => {
      const name = candidate.toLowerCase();
      const shortened = typed.length >= 3 && (name.startsWith(typed) || typed.startsWith(name));
      return { candidate, distance: shortened ? 0 : editDistance(typed, name) };
    })
    .filter(({ distance }) => distance <= Math.max(1, Math.floor(key.length / 4)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `unknown field; did you mean ${near.candidate}?`;
  return known.length > 0 ? `unknown field (expected one of ${known.join(', ')})` : 'unknown field';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The keys the schema allows for the object at `path` (following the raw input through unions). */
export function knownKeys(schema: z.ZodType, path: readonly (string | number)[], raw: unknown): string[] {
  let current: z.ZodType | undefined = schema;
  let value: unknown = raw;
  for (const segment of [...path, undefined]) {
    // Unwrap to the object (or array) the next segment indexes.
    for (;;) {
      if (current instanceof z.ZodOptional || current instanceof z.ZodDefault)
        current = current.unwrap() as z.ZodType;
      else if (current instanceof z.ZodDiscriminatedUnion) {
        const discriminator = current.def.discriminator;
        const tag = isRecord(value) ? value[discriminator] : undefined;
        current = (current.options as z.ZodType[]).find(
          (option) =>
            option instanceof z.ZodObject &&
            option.shape[discriminator] instanceof z.ZodLiteral &&
            option.shape[discriminator].values.has(tag as z.core.util.Literal),
        );
      } else break;
    }
    if (segment === undefined) break;
    if (current instanceof z.ZodObject) current = current.shape[String(segment)] as z.ZodType | undefined;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
    value = Array.isArray(value) || isRecord(value) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}
