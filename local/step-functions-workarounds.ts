/**
 * Workarounds for aws-local-stepfunctions 3.0.0 (checked against its build, Node 20), used by the local
 * runbook runner (local/runbook-runner.ts):
 * - Node 20: every Task state calls `Promise.withResolvers()` (Node 22+), so on Node 20 every Task fails
 *   with a TypeError, which `Catch: States.ALL` takes for a step failure (ReVerify → MarkFailed, which
 *   fails the same way): the runbook looks as if its first step had failed. The package declares engines
 *   node>=22 (the EBADENGINE warning); the package's "works on Node 20" holds only for definitions
 *   without Task states. This module installs the standard polyfill when the function is missing, as soon
 *   as it is loaded (importing it is enough); with it the package works on Node 20.
 * - Choice: `"IsPresent": false` (any `"IsX": false` type test) never matches in the engine;
 *   {@link negatedTypeTests} rewrites a rule into the equivalent `"Not": { "IsX": true }`.
 */
import { isRecord } from './step-functions-json';

installPromiseWithResolvers();

/** Choice type tests whose negative form the engine gets wrong (`IsPresent: false` never matches there). */
const TYPE_TESTS = ['IsPresent', 'IsNull', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'] as const;

/**
 * A Choice rule with every `"IsX": false` test rewritten as `"Not": { "IsX": true }`, which means the same
 * in the States language and which the engine evaluates correctly (it returns false for `"IsX": false`
 * whatever the value: aws-local-stepfunctions 3.0.0, ChoiceStateAction).
 */
export function negatedTypeTests<T>(rule: T): T {
  if (!isRecord(rule)) return rule;
  const rewritten: Record<string, unknown> = { ...rule };
  for (const key of ['And', 'Or'] as const) {
    const rules = rewritten[key];
    if (Array.isArray(rules)) rewritten[key] = rules.map((inner: unknown) => negatedTypeTests(inner));
  }
  if (rewritten.Not !== undefined) rewritten.Not = negatedTypeTests(rewritten.Not);
  const test = TYPE_TESTS.find((key) => rewritten[key] === false);
  if (test !== undefined) {
    const { Next, Variable, [test]: _false, ...rest } = rewritten;
    return { ...rest, ...(Next === undefined ? {} : { Next }), Not: { Variable, [test]: true } } as T;
  }
  return rewritten as T;
}

/**
 * aws-local-stepfunctions calls `Promise.withResolvers()` (ES2024, Node 22) in every Task state. On Node 20
 * it is missing; this is the standard polyfill, installed only then.
 */
function installPromiseWithResolvers(): void {
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve: (value: T | PromiseLike<T>) => void = () => undefined;
      let reject: (reason?: unknown) => void = () => undefined;
      const created = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise: created, resolve, reject };
    },
  });
}
