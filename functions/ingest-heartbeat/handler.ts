import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { CoalescingKinesisProcessor } from '../adapters/coalescing-processor';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import { type IngestDeps, ingestHeartbeats } from './ingest';

/**
 * The ingest-heartbeat handler: a Kinesis batch in, a partial batch response out. Adapters come in
 * `deps` (index.ts builds the AWS ones once per container; tests and local mode pass their own);
 * `clock` returns now in epoch ms; `metrics` receives the batch's counts (published once per invocation).
 */
export function createHandler(
  deps: Omit<IngestDeps, 'logger'>,
  options: { logger?: Logger; metrics?: Metrics; clock?: () => number } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'ingest-heartbeat' });
  const metrics = options.metrics ?? noMetrics;
  const clock = options.clock ?? Date.now;
  const processor = new CoalescingKinesisProcessor(async (records) => {
    const report = await ingestHeartbeats(records, { ...deps, logger }, clock());
    logger.info('heartbeat batch', {
      records: report.records,
      applied: report.applied,
      stale: report.stale,
      quarantined: report.quarantined,
      writes: report.writes,
      failed: report.failures.size,
    });
    metrics.add('HeartbeatsIngested', report.applied);
    metrics.add('HeartbeatsStale', report.stale);
    metrics.add('HeartbeatsRejected', report.quarantined);
    metrics.add('HeartbeatsCoalesced', Math.max(0, report.applied - report.writes));
    metrics.add('WriteConflicts', report.conflicts);
    for (const { status, latencyMs } of report.detections)
      metrics.add('DetectionLatency', latencyMs, { Status: status });
    for (const [clusterId, lag] of report.maxLagSeconds)
      metrics.add('ReplicaLagSeconds', lag, { ClusterId: clusterId });
    return report.failures;
  });
  return middy(async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => processor.run(event))
    .use(injectLambdaContext(logger))
    .use(publishMetrics(metrics));
}
