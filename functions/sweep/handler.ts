import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { FleetCensus } from '../adapters/fleet-census';
import { type Metrics, noMetrics, publishMetrics } from '../adapters/metrics';
import type { NodeStatus } from '../core/node-state';
import { type SweepDeps, type SweepReport, sweepOnce } from './sweep';

export interface SweepSchedule {
  /** Seconds between two sweeps inside one invocation. @default 10 */
  readonly intervalSeconds: number;
  /** The invocation covers this window (the schedule's period) and returns. @default 60 */
  readonly windowSeconds: number;
}

/**
 * The sweep handler. EventBridge Scheduler cannot fire more often than once a minute, so each invocation
 * sweeps every `intervalSeconds` for one `windowSeconds` window (6 sweeps a minute by default) and returns
 * before the next invocation starts. Overlapping invocations are harmless: every write is conditional.
 */
const STATUSES: readonly NodeStatus[] = [
  'HEALTHY',
  'LAGGING',
  'STALLED',
  'SILENT',
  'DEAD',
  'RECOVERING',
  'FENCED',
  'MAINTENANCE',
  'SPLIT_BRAIN',
  'WRONG_SOURCE',
  'DATA_LOSS',
];

/**
 * `census`, when given, counts the fleet by status once per invocation (published as NodesByStatus, zeros
 * included, so a dashboard shows 0 rather than a gap); every sweep counts as one SweepRuns.
 */
export function createHandler(
  deps: Omit<SweepDeps, 'logger'> & { readonly census?: FleetCensus },
  schedule: SweepSchedule,
  options: {
    logger?: Logger;
    metrics?: Metrics;
    clock?: () => number;
    sleep?: (ms: number) => Promise<void>;
  } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'sweep' });
  const metrics = options.metrics ?? noMetrics;
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return middy(
    async (_event: unknown, context: Context): Promise<{ sweeps: number; reports: SweepReport[] }> => {
      const started = clock();
      const sweeps = Math.max(1, Math.floor(schedule.windowSeconds / schedule.intervalSeconds));
      const reports: SweepReport[] = [];
      for (let i = 0; i < sweeps; i++) {
        const due = started + i * schedule.intervalSeconds * 1000;
        const wait = due - clock();
        if (wait > 0) {
          // Leave the invocation before its timeout rather than be cut off mid-sweep.
          if (context.getRemainingTimeInMillis() < wait + 5000) break;
          await sleep(wait);
        }
        const report = await sweepOnce({ ...deps, logger }, clock());
        reports.push(report);
        metrics.add('SweepRuns', 1);
        metrics.add('OverdueNodes', report.overdue);
        for (const t of report.transitions)
          if (t.latencyMs !== undefined) metrics.add('DetectionLatency', t.latencyMs, { Status: t.to });
        if (report.overdue > 0) {
          logger.info('sweep', {
            overdue: report.overdue,
            marked: report.marked,
            lostRaces: report.lostRaces,
            indexItemsRead: report.indexItemsRead,
            transitions: report.transitions,
          });
        }
      }
      if (deps.census) {
        // The census is for the dashboard: its failure (a throttled read) must not fail a minute of sweeps,
        // which would raise the sweep's error alarm and have the invocation retried.
        try {
          const counts = await deps.census.countByStatus(deps.shards);
          for (const status of STATUSES)
            metrics.add('NodesByStatus', counts[status] ?? 0, { Status: status });
        } catch (error) {
          logger.warn('fleet census failed; NodesByStatus not published this minute', {
            error: (error as Error).message,
          });
        }
      }
      return { sweeps: reports.length, reports };
    },
  )
    .use(injectLambdaContext(logger))
    .use(publishMetrics(metrics));
}
