/**
 * What a probe's cadence can honor (issue 11, finding 8). A probe round starts every `intervalSeconds`
 * and gives each node until its deadline (`deadlineSeconds` after the round's start) to answer; a node
 * that misses it is reported unreachable for itself only, so the others' heartbeats are never late.
 *
 * Two rules follow:
 * 1. The deadline must fit in the interval (`deadline < interval`): otherwise a round is still waiting for
 *    a node when the next one should start, and rounds overlap or slip.
 * 2. `heartbeatTimeoutSeconds > interval + deadline`: a healthy node answered at the very start of one
 *    round and at the very end (its deadline) of the next has heartbeats `interval + deadline` apart; a
 *    timeout not above that marks healthy nodes SILENT.
 *
 * Pure: numbers in, messages out.
 */

/** The longest per-node deadline derived from an interval: a node slower than this is not healthy. */
export const MAX_PROBE_DEADLINE_SECONDS = 5;
/** The share of the interval a derived deadline takes; the rest is left to publish the round. */
export const PROBE_DEADLINE_SHARE = 0.8;

/** How often a probe runs and how long it gives each node. */
export interface ProbeCadence {
  readonly intervalSeconds: number;
  readonly deadlineSeconds: number;
}

/**
 * The per-node deadline for rounds every `intervalSeconds` when none is configured:
 * min(5 s, 80 % of the interval), to the millisecond. 10 s → 5 s, 5 s → 4 s, 1 s → 0.8 s.
 */
export function defaultProbeDeadlineSeconds(intervalSeconds: number): number {
  return Math.min(
    MAX_PROBE_DEADLINE_SECONDS,
    Math.floor(intervalSeconds * PROBE_DEADLINE_SHARE * 1000) / 1000,
  );
}

/** Rule 1: why the deadline does not fit in the interval, or `undefined` when it does. */
export function deadlineProblem(cadence: ProbeCadence): string | undefined {
  if (cadence.deadlineSeconds < cadence.intervalSeconds) return undefined;
  return (
    `the probe deadline (${cadence.deadlineSeconds} s) must be less than the interval between probe ` +
    `rounds (${cadence.intervalSeconds} s): every node must be answered or given up on before the next round starts`
  );
}

/** Rule 2: why `heartbeatTimeoutSeconds` is too short for the cadence, or `undefined` when it is not. */
export function heartbeatTimeoutProblem(
  cadence: ProbeCadence,
  heartbeatTimeoutSeconds: number,
): string | undefined {
  const needed = round3(cadence.intervalSeconds + cadence.deadlineSeconds);
  if (heartbeatTimeoutSeconds > needed) return undefined;
  return (
    `heartbeatTimeoutSeconds (${heartbeatTimeoutSeconds}) must be greater than the probe interval plus ` +
    `the probe deadline (${cadence.intervalSeconds} + ${cadence.deadlineSeconds} = ${needed} s): ` +
    `a healthy node's probe heartbeats can be that far apart, so a shorter timeout marks it SILENT`
  );
}

function round3(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * The probe function's schedule (issue 13, item 7: one cadence knob). It is invoked every minute (the finest
 * schedule EventBridge has) and, inside the minute, runs a round every {@link probeRoundSeconds}; each round
 * probes the clusters whose `heartbeatIntervalSeconds` is due at it ({@link probeDue}). So a cluster's
 * interval must fall on rounds that repeat every minute: a whole divisor of 60 (1, 2, 3, 4, 5, 6, 10, 12,
 * 15, 20, 30) or a whole number of minutes up to an hour.
 */
export const MAX_PROBED_HEARTBEAT_INTERVAL_SECONDS = 3600;

/** Why the probe function cannot probe a cluster every `intervalSeconds`, or `undefined` when it can. */
export function probeIntervalProblem(intervalSeconds: number): string | undefined {
  const fits =
    Number.isInteger(intervalSeconds) &&
    intervalSeconds >= 1 &&
    intervalSeconds <= MAX_PROBED_HEARTBEAT_INTERVAL_SECONDS &&
    (intervalSeconds < 60 ? 60 % intervalSeconds === 0 : intervalSeconds % 60 === 0);
  if (fits) return undefined;
  return (
    `heartbeatIntervalSeconds (${intervalSeconds}) cannot be honored by the probe function, which runs ` +
    'rounds inside one-minute invocations: use a whole divisor of a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, ' +
    '20, 30) or a whole number of minutes (60, 120, … 3600)'
  );
}

/**
 * Seconds between two rounds of the probe function for clusters probed every `intervalsSeconds`: their
 * greatest common divisor with 60 (so rounds repeat every minute). Every interval must pass
 * {@link probeIntervalProblem}; 60 when there is none.
 */
export function probeRoundSeconds(intervalsSeconds: readonly number[]): number {
  return intervalsSeconds.reduce(gcd, 60);
}

/**
 * Whether a cluster probed every `intervalSeconds` is due at the round numbered `slot`, rounds being
 * `roundSeconds` apart and numbered from the epoch (slot × roundSeconds = the round's time in epoch
 * seconds, rounded): the same rounds are due whichever invocation runs them.
 */
export function probeDue(slot: number, roundSeconds: number, intervalSeconds: number): boolean {
  return (slot * roundSeconds) % intervalSeconds === 0;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
