import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { errorMessage } from '../adapters/hooks/connection';
import { probeDue } from '../core/probe-cadence';
import { type ProbeFailure, type ProbeRoundDeps, probeRound } from './probe';

export interface ProbeHandlerDeps extends Omit<ProbeRoundDeps, 'logger' | 'clock'> {
  /**
   * Writes the clusters of the bundled configuration to the table (mode, policy, hooks, nodes); run at the
   * first invocation of each container, so a deployment that changes the file applies it within a minute.
   * Resolves with a one-line summary.
   */
  readonly applyConfig: () => Promise<string>;
}

export interface ProbeSchedule {
  /**
   * Seconds between two rounds (core/config/deployed-stack.ts `probeSchedule`: the greatest common divisor of the
   * targets' `intervalSeconds` and 60). A round probes the targets due at it (core/probe-cadence.ts
   * `probeDue`), so each cluster is probed every `intervalSeconds` of its own.
   */
  readonly roundSeconds: number;
  /** The period of the schedule: one invocation runs a round every `roundSeconds` for this long. */
  readonly windowSeconds: number;
}

export interface ProbeInvocationReport {
  /** Rounds that probed at least one cluster. */
  readonly rounds: number;
  readonly heartbeats: number;
  readonly unreachable: readonly string[];
}

/** Some of the invocation's work failed (a login not readable, heartbeats refused, the config not applied). */
export class ProbeRunError extends Error {
  override readonly name = 'ProbeRunError';
  constructor(
    readonly failures: readonly ProbeFailure[],
    readonly report: ProbeInvocationReport,
  ) {
    super(
      `probe: ${failures.length} failure(s) in ${report.rounds} round(s) (${report.heartbeats} heartbeats sent): ` +
        failures
          .map((f) => (f.clusterId === undefined ? f.reason : `${f.clusterId}: ${f.reason}`))
          .join('; '),
    );
  }
}

/**
 * The probe handler, invoked by a schedule (at most once a minute): for one `windowSeconds` window it runs a
 * round every `roundSeconds`, each probing the clusters whose `intervalSeconds` is due, and returns before
 * the next invocation. Rounds are numbered from the epoch (the round's nominal time ÷ `roundSeconds`,
 * rounded), so that the same rounds are due whichever invocation runs them. Failures
 * do not stop the window (the next round may succeed); they are logged as they happen and the invocation
 * then fails with a {@link ProbeRunError} naming them, so that the function's Errors metric shows them.
 */
export function createHandler(
  deps: ProbeHandlerDeps,
  schedule: ProbeSchedule,
  options: { logger?: Logger; clock?: () => number; sleep?: (ms: number) => Promise<void> } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'probe' });
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const roundMs = schedule.roundSeconds * 1000;
  const rounds = Math.max(1, Math.floor(schedule.windowSeconds / schedule.roundSeconds));
  let applied: Promise<string> | undefined;

  return middy(async (_event: unknown, context: Context): Promise<ProbeInvocationReport> => {
    const failures: ProbeFailure[] = [];
    try {
      applied ??= deps.applyConfig();
      logger.info('configuration applied', { summary: await applied });
    } catch (error) {
      applied = undefined; // tried again by the next invocation
      failures.push({
        reason: `the cluster configuration was not applied to the table: ${errorMessage(error)}`,
      });
    }
    const started = clock();
    let done = 0;
    let heartbeats = 0;
    const unreachable = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const due = started + round * roundMs;
      const slot = Math.round(due / roundMs);
      const targets = deps.targets.filter((target) =>
        probeDue(slot, schedule.roundSeconds, target.intervalSeconds),
      );
      if (targets.length === 0) continue;
      const wait = due - clock();
      // Leave before the timeout rather than be cut off in the middle of a round.
      if (wait > 0 && context.getRemainingTimeInMillis() < wait + 10_000) break;
      if (wait > 0) await sleep(wait);
      done++;
      const report = await probeRound({ ...deps, targets, logger, clock });
      heartbeats += report.heartbeats;
      for (const node of report.unreachable) unreachable.add(node);
      for (const failure of report.failures) logger.error('probe round failure', { ...failure });
      failures.push(...report.failures);
    }
    const result = { rounds: done, heartbeats, unreachable: [...unreachable].sort() };
    if (unreachable.size > 0) logger.warn('nodes not reachable', { nodes: result.unreachable });
    if (failures.length > 0) throw new ProbeRunError(failures, result);
    return result;
  }).use(injectLambdaContext(logger));
}
