import { randomUUID } from 'node:crypto';
import type {
  DeserializeMiddleware,
  HandlerExecutionContext,
  InitializeMiddleware,
  MiddlewareStack,
} from '@smithy/types';

/**
 * Fault injection for the reliability suite: errors shaped like the ones AWS services return, thrown by an
 * SDK middleware on a real client (so every caller above it, SDK retry included when the fault sits below
 * it, sees exactly what it would see in AWS), driven by a seeded random source so a run is reproducible.
 */

/** A small seeded PRNG (mulberry32): the same seed gives the same faults on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An error as the SDK deserializes a service's throttling answer (HTTP 400, client fault, throttling). */
export function throttlingError(name: string, message = 'Rate of requests exceeds the allowed throughput.') {
  return Object.assign(new Error(message), {
    name,
    $fault: 'client' as const,
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
    $retryable: { throttling: true },
  });
}

/** A request that reached the service (and may have been applied) but whose answer never came back. */
export function lostResponseError(): Error {
  return Object.assign(new Error('socket hang up after the request was sent'), {
    name: 'TimeoutError',
    $metadata: {},
  });
}

/** What a fault decides for one call: pass it, fail it before it is sent, or drop its answer. */
export type FaultDecision = 'pass' | 'before' | 'after';

export interface FaultLog {
  /** Calls seen, by command name. */
  readonly calls: Map<string, number>;
  /** Faults injected, by command name. */
  readonly injected: Map<string, number>;
  /** All faults injected. */
  total(): number;
}

/** Any SDK v3 client (its middleware stack is all that is used). */
interface MiddlewareClient {
  middlewareStack: Pick<MiddlewareStack<object, object>, 'add'>;
}

export interface FaultOptions {
  /** Decides, per call, whether and how it fails. */
  readonly decide: (commandName: string, input: unknown, callIndex: number) => FaultDecision;
  /** The error a call failed before it was sent gets. */
  readonly error: (commandName: string, callIndex: number) => Error;
  /**
   * `handler`: above the SDK's own retries, so the function's code sees every fault (throttling that
   * outlasted the SDK retries); `sdk`: below them, so the SDK retries first.
   * @default 'handler'
   */
  readonly layer?: 'handler' | 'sdk';
}

/**
 * Adds a fault-injecting middleware to a real SDK client (a DynamoDB document client shares the stack of
 * the client it wraps). Returns the running counts.
 */
export function injectFaults(client: MiddlewareClient, options: FaultOptions): FaultLog {
  const calls = new Map<string, number>();
  const injected = new Map<string, number>();
  let index = 0;
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const middleware =
    (next: (args: { input: object }) => Promise<unknown>, context: HandlerExecutionContext) =>
    async (args: { input: object }) => {
      const name = String(context.commandName);
      const callIndex = index++;
      bump(calls, name);
      const decision = options.decide(name, args.input, callIndex);
      if (decision === 'before') {
        bump(injected, name);
        throw options.error(name, callIndex);
      }
      const result = await next(args);
      if (decision === 'after') {
        bump(injected, name);
        throw lostResponseError();
      }
      return result;
    };
  const name = `fault-${randomUUID()}`;
  if (options.layer === 'sdk') {
    client.middlewareStack.add(middleware as unknown as DeserializeMiddleware<object, object>, {
      step: 'deserialize',
      name,
      priority: 'high',
    });
  } else {
    client.middlewareStack.add(middleware as unknown as InitializeMiddleware<object, object>, {
      step: 'initialize',
      name,
      priority: 'high',
    });
  }
  return {
    calls,
    injected,
    total: () => [...injected.values()].reduce((sum, n) => sum + n, 0),
  };
}

const DYNAMODB_THROTTLES = ['ProvisionedThroughputExceededException', 'ThrottlingException'] as const;

/**
 * DynamoDB throttling on a share of calls, chosen by a seeded random source: alternately
 * ProvisionedThroughputExceededException and ThrottlingException, failing before the request is sent.
 */
export function throttleDynamoDb(
  client: MiddlewareClient,
  options: { rate: number; random: () => number; layer?: 'handler' | 'sdk' },
): FaultLog {
  let thrown = 0;
  return injectFaults(client, {
    decide: () => (options.random() < options.rate ? 'before' : 'pass'),
    error: () => throttlingError(DYNAMODB_THROTTLES[thrown++ % DYNAMODB_THROTTLES.length] as string),
    ...(options.layer ? { layer: options.layer } : {}),
  });
}

/** Fails the first `count` calls of one command (e.g. StartExecution) the given way. */
export function failFirstCalls(
  client: MiddlewareClient,
  options: { command: string; count: number; how: 'throttle' | 'lost-response'; errorName?: string },
): FaultLog {
  let failed = 0;
  return injectFaults(client, {
    decide: (name) => {
      if (name !== options.command || failed >= options.count) return 'pass';
      failed++;
      return options.how === 'throttle' ? 'before' : 'after';
    },
    error: () => throttlingError(options.errorName ?? 'ThrottlingException', 'Rate exceeded'),
  });
}
