/**
 * `npm run demo` (foundation version): a scripted PostgreSQL-like cluster of SIMULATED nodes — a primary
 * and two replicas sending heartbeats, and a change stream — fed through the real ingest handlers into a
 * real DynamoDB Local, on a virtual clock. One replica stalls at t=+60s and recovers at t=+180s; the
 * demo prints every status change as the table records it and exits 0 only if the stall was detected
 * and the recovery seen. Real Redis/PostgreSQL servers replace the simulation in the local-mode work.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { documentClient } from '../functions/adapters/clients';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { TABLE } from '../functions/adapters/table-definition';
import type { NodeState } from '../functions/core/node-state';
import { createHandler as createChangeHandler } from '../functions/ingest-change-stream/handler';
import { createHandler as createHeartbeatHandler } from '../functions/ingest-heartbeat/handler';
import { createNodeStateTable, LOCAL_AWS, startDynamoDbLocal } from './dynamodb-local';
import { kinesisRecord } from './kinesis-records';
import { MemoryQuarantine } from './memory-quarantine';

const context = { functionName: 'demo', awsRequestId: 'demo' } as Context;
const T0 = Date.parse('2026-11-22T23:00:00Z');
const lsn = (n: number) => `0/${n.toString(16).toUpperCase()}`;

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  say(
    'replica-sentinel demo — SIMULATED nodes (no database servers yet), real handlers, real DynamoDB Local',
  );
  const ddb = await startDynamoDbLocal();
  const stop = async () => {
    await ddb.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const tableName = 'replica-sentinel-demo';
    await createNodeStateTable(ddb.endpoint, tableName);
    const client = documentClient({ ...LOCAL_AWS, endpoint: ddb.endpoint });
    const store = new DynamoNodeStateStore(client, tableName);
    let now = T0;
    const quarantine = new MemoryQuarantine();
    const logger = new Logger({ logLevel: 'SILENT' });
    const heartbeats = createHeartbeatHandler(
      { store, quarantine, sweepShards: TABLE.sweepShards },
      { logger, clock: () => now },
    );
    const changes = createChangeHandler({ store, quarantine }, { logger, clock: () => now });
    say(`DynamoDB Local on ${ddb.endpoint}, table ${tableName}`);

    const seen = new Map<string, string>();
    const events: { at: number; nodeId: string; from: string; to: string; reason: string }[] = [];
    let head = 0x3000000;
    const applied: Record<string, number> = { 'pg-2': head, 'pg-3': head };
    for (let tick = 0; tick <= 30; tick++) {
      now = T0 + tick * 10_000;
      head += 8192;
      const stalled = tick >= 6 && tick < 18;
      applied['pg-2'] = head - 512;
      if (!stalled) applied['pg-3'] = head - 1024;
      const at = new Date(now).toISOString();
      const hb = (nodeId: string, extra: object) =>
        kinesisRecord({
          v: 1,
          clusterId: 'orders-pg',
          nodeId,
          engine: 'postgresql',
          seq: tick + 1,
          observedAt: at,
          ...extra,
        });
      await changes(
        {
          Records: [
            kinesisRecord({
              v: 1,
              clusterId: 'orders-pg',
              engine: 'postgresql',
              position: lsn(head),
              committedAt: at,
            }),
          ],
        },
        context,
      );
      await heartbeats(
        {
          Records: [
            hb('pg-1', { role: 'primary', position: lsn(head) }),
            ...['pg-2', 'pg-3'].map((nodeId) =>
              hb(nodeId, {
                role: 'replica',
                replication: {
                  sourceNodeId: 'pg-1',
                  linkUp: true,
                  appliedPosition: lsn(applied[nodeId] ?? 0),
                  paused: nodeId === 'pg-3' && stalled,
                },
              }),
            ),
          ],
        },
        context,
      );
      if (tick === 6) say(`t=+${tick * 10}s  (pausing replay on pg-3)`);
      if (tick === 18) say(`t=+${tick * 10}s  (resuming replay on pg-3)`);
      const snapshot = await store.loadCluster('orders-pg');
      for (const node of snapshot.nodes.values()) {
        const before = seen.get(node.nodeId);
        if (before !== node.status) {
          seen.set(node.nodeId, node.status);
          events.push({
            at: now - T0,
            nodeId: node.nodeId,
            from: before ?? '-',
            to: node.status,
            reason: node.statusReason,
          });
          say(
            `t=+${(now - T0) / 1000}s  ${node.nodeId.padEnd(5)} ${(before ?? '-').padEnd(8)} -> ${node.status.padEnd(8)} ${node.statusReason}`,
          );
        }
      }
    }
    const nodes: NodeState[] = [...(await store.loadCluster('orders-pg')).nodes.values()];
    const stall = events.find((e) => e.nodeId === 'pg-3' && e.to === 'STALLED');
    const recovered = events.find((e) => e.nodeId === 'pg-3' && e.from === 'STALLED' && e.to === 'HEALTHY');
    const ok = stall !== undefined && recovered !== undefined;
    const summary = {
      simulated: true,
      stallDetectedAfterMs: stall ? stall.at - 60_000 : null,
      recoveredAfterMs: recovered ? recovered.at - 180_000 : null,
      events,
      nodes: nodes.map((n) => ({
        clusterId: n.clusterId,
        nodeId: n.nodeId,
        role: n.role,
        status: n.status,
        appliedPosition: n.appliedPosition ?? n.position,
      })),
    };
    if (json) console.log(JSON.stringify(summary, null, 2));
    else {
      console.log('\nnode   role     status   position');
      for (const n of summary.nodes)
        console.log(
          `${n.nodeId.padEnd(6)} ${n.role.padEnd(8)} ${n.status.padEnd(8)} ${n.appliedPosition ?? ''}`,
        );
      console.log(
        ok
          ? `\nOK: stall detected ${summary.stallDetectedAfterMs} ms (virtual) after replay stopped; HEALTHY again ${summary.recoveredAfterMs} ms after it resumed`
          : '\nFAILED: the stall or the recovery was not seen',
      );
    }
    client.destroy();
    return ok ? 0 : 1;
  } finally {
    await stop();
  }
}

process.exitCode = await main();
