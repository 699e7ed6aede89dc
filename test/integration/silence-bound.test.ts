import { describe, expect, it } from '@jest/globals';
import { TABLE } from '../../functions/adapters/table-definition';
import { nodeHash } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import { sweepKeyOf } from '../../functions/core/sweep-key';
import { sweepOnce } from '../../functions/sweep/sweep';
import { useTestTable } from '../support/dynamodb';
import { ingestOn } from '../support/handlers';
import { lsn, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const silent = silentLogger();
const context = lambdaContext();
const TIMEOUT_MS = DEFAULT_POLICY.heartbeatTimeoutSeconds * 1000;
const INTERVAL_MS = DEFAULT_POLICY.heartbeatIntervalSeconds * 1000;
const SWEEP_PERIOD_MS = 10_000;

/** The start of the first bucket of node `nodeId` after `at`. */
function nextBoundary(clusterId: string, nodeId: string, at: number): number {
  const offset = nodeHash(clusterId, nodeId) % TABLE.sweepBucketMs;
  return sweepKeyOf(at, offset, TABLE.sweepBucketMs) + TABLE.sweepBucketMs;
}

/**
 * The bound the sweep promises (docs/SIZING.md "The sweep index"): a node that stops reporting is marked
 * SILENT by the first sweep at or after its last heartbeat + heartbeatTimeoutSeconds, so within the timeout
 * plus one sweep period — also when its last heartbeat moved its index entry to a new bucket, or its
 * deadline falls on a bucket's first millisecond or just before or after it.
 */
describe('the silence-detection bound with a bucketed sweep index', () => {
  const table = useTestTable('silence-bound');

  it('finds each stopped node at the first sweep after its deadline, never before, within timeout + one sweep period', async () => {
    const clusterId = 'bound';
    let now = T0;
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    // Deadline of the last heartbeat relative to a bucket boundary of the node: on it, 1 ms before/after,
    // one heartbeat interval after (the previous heartbeat's deadline was in the earlier bucket).
    const shifts = [0, -1, 1, INTERVAL_MS, -INTERVAL_MS];
    const base = T0 + 3_600_000;
    const lastBeat = new Map<string, number>();
    for (const [i, shift] of shifts.entries()) {
      const nodeId = `r${i}`;
      lastBeat.set(nodeId, nextBoundary(clusterId, nodeId, base) + shift - TIMEOUT_MS);
    }
    // Each node in turn reports every interval for two minutes before its last heartbeat, then stops; the
    // sweep runs every period from its first heartbeat on, at a phase that differs from node to node (the
    // first node's sweeps fall exactly on its deadline).
    for (const [i, [nodeId, last]] of [...lastBeat].entries()) {
      const beats = Array.from({ length: 13 }, (_, k) => ({ at: last - (12 - k) * INTERVAL_MS, seq: k + 1 }));
      const deadline = last + TIMEOUT_MS;
      const phase = (i * 2_500) % SWEEP_PERIOD_MS;
      let foundAt: number | undefined;
      let next = 0;
      for (
        let sweepAt = beats[0]?.at ?? last;
        sweepAt <= deadline + 2 * SWEEP_PERIOD_MS;
        sweepAt += SWEEP_PERIOD_MS
      ) {
        const at = sweepAt + phase;
        for (; next < beats.length && (beats[next]?.at ?? Number.POSITIVE_INFINITY) <= at; next++) {
          const beat = beats[next];
          if (!beat) continue;
          now = beat.at;
          const hb = replicaHeartbeat({ clusterId, nodeId, at: beat.at, seq: beat.seq, applied: lsn(5) });
          expect((await ingest(kinesisEvent([kinesisRecord(hb)]), context)).batchItemFailures).toEqual([]);
        }
        now = at;
        const report = await sweepOnce(
          { index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards },
          at,
        );
        if (report.transitions.some((t) => t.nodeId === nodeId && t.to === 'SILENT')) foundAt ??= at;
        const status = (await table.getNode(clusterId, nodeId))?.status;
        // Never before the deadline; always by the first sweep at or after it.
        expect({ nodeId, at, status }).toEqual({ nodeId, at, status: at < deadline ? 'HEALTHY' : 'SILENT' });
      }
      expect(foundAt).toBeDefined();
      const found = foundAt ?? Number.POSITIVE_INFINITY;
      expect(found - last).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(found - last).toBeLessThan(TIMEOUT_MS + SWEEP_PERIOD_MS);
    }
  });
});
