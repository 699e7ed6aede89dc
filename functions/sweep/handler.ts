import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { FleetCensus } from '../adapters/fleet-census';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import type { NodeStatus } from '../core/node-state';
import { nextSweep, SWEEP_WINDOW_SECONDS, sweepsPerWindow } from '../core/sweep-window';
import { type SweepDeps, sweepOnce } from './sweep';

/**
 * What one invocation gets: the state of the sweep state machine (infra/constructs/detector.ts). The
 * schedule starts it with `{ windowStart }` (its scheduled time); each invocation's answer is the next
 * one's input. Other fields (a scheduled event's, `swept`) are ignored; `{}` sweeps once in a window that
 * begins now (a manual invocation).
 */
export const SweepInvocationSchema = z.object({
  /** The window's start, ISO 8601. @default now */
  windowStart: z.iso.datetime({ offset: true }).optional(),
  /** The slot this invocation sweeps (0 = the window's first). @default 0 */
  index: z.number().int().min(0).optional(),
});
export type SweepInvocation = z.infer<typeof SweepInvocationSchema>;

/** One invocation's answer: the next invocation's input, or `done`, and what this sweep did. */
export interface SweepOutcome {
  readonly windowStart: string;
  /** The next slot to sweep (the last one swept when `done`). */
  readonly index: number;
  /** When the next slot is due (ISO 8601; the state machine waits until then); absent when `done`. */
  readonly at?: string;
  /** No slot left in this window: the state machine ends; the next window's execution carries on. */
  readonly done: boolean;
  /** What this invocation's sweep did (small: it travels in the execution's state). */
  readonly swept: {
    readonly index: number;
    readonly at: string;
    readonly overdue: number;
    readonly marked: number;
    readonly lostRaces: number;
  };
}

export interface SweepSchedule {
  /** Seconds between two sweeps (SWEEP_INTERVAL_SECONDS), an integer from 1 to 60. */
  readonly intervalSeconds: number;
  /** The window one execution covers (the schedule's period). @default SWEEP_WINDOW_SECONDS */
  readonly windowSeconds?: number;
}

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
 * The sweep handler: exactly one sweep per invocation (functions/sweep/sweep.ts), then the next slot of
 * its window (functions/core/sweep-window.ts). It never waits: the state machine's Wait state does, so no
 * Lambda is held between sweeps. Overlapping invocations are harmless: every write is conditional.
 *
 * `census`, when given, counts the fleet by status on a window's first slot only, once a minute (published as
 * NodesByStatus, zeros included, so a dashboard shows 0 rather than a gap); every sweep counts as one SweepRuns.
 */
export function createHandler(
  deps: Omit<SweepDeps, 'logger'> & { readonly census?: FleetCensus },
  schedule: SweepSchedule,
  options: { logger?: Logger; metrics?: Metrics; clock?: () => number } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'sweep' });
  const metrics = options.metrics ?? noMetrics;
  const clock = options.clock ?? Date.now;
  const windowSeconds = schedule.windowSeconds ?? SWEEP_WINDOW_SECONDS;
  const slots = sweepsPerWindow(schedule.intervalSeconds, windowSeconds);
  return middy(async (event: unknown, _context: Context): Promise<SweepOutcome> => {
    const parsed = SweepInvocationSchema.safeParse(event ?? {});
    if (!parsed.success) {
      throw new Error(`sweep: not a sweep invocation: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    const index = parsed.data.index ?? 0;
    if (index >= slots)
      throw new Error(`sweep: slot ${index} is not one of the window's ${slots} (0 to ${slots - 1})`);
    const window = {
      startMs: parsed.data.windowStart === undefined ? clock() : Date.parse(parsed.data.windowStart),
      intervalSeconds: schedule.intervalSeconds,
      windowSeconds,
    };

    const at = clock();
    const report = await sweepOnce({ ...deps, logger }, at);
    metrics.add('SweepRuns', 1);
    metrics.add('OverdueNodes', report.overdue);
    for (const t of report.transitions)
      if (t.latencyMs !== undefined) metrics.add('DetectionLatency', t.latencyMs, { Status: t.to });
    if (report.overdue > 0) {
      logger.info('sweep', {
        slot: index,
        overdue: report.overdue,
        marked: report.marked,
        lostRaces: report.lostRaces,
        indexItemsRead: report.indexItemsRead,
        transitions: report.transitions,
      });
    }
    if (deps.census && index === 0) {
      // The census is for the dashboard: its failure (a throttled read) must not fail the sweep, which
      // would raise the sweep's alarms and end the minute's sweeps.
      try {
        const counts = await deps.census.countByStatus(deps.shards);
        for (const status of STATUSES) metrics.add('NodesByStatus', counts[status] ?? 0, { Status: status });
      } catch (error) {
        logger.warn('fleet census failed; NodesByStatus not published this minute', {
          error: (error as Error).message,
        });
      }
    }

    const next = nextSweep(window, index, clock());
    return {
      windowStart: new Date(window.startMs).toISOString(),
      ...(next.done
        ? { index, done: true }
        : { index: next.index, at: new Date(next.atMs).toISOString(), done: false }),
      swept: {
        index,
        at: new Date(at).toISOString(),
        overdue: report.overdue,
        marked: report.marked,
        lostRaces: report.lostRaces,
      },
    };
  })
    .use(injectLambdaContext(logger))
    .use(publishMetrics(metrics));
}
