/**
 * Ingest benchmark: heartbeats per second through the real ingest-heartbeat handler into DynamoDB Local,
 * and DynamoDB requests per heartbeat, for the coalescing handler against a naive handler that reads and
 * writes once per record. Same machine, same run, same inputs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, KinesisStreamRecord } from 'aws-lambda';
import { documentClient } from '../functions/adapters/clients';
import { recordBytes } from '../functions/adapters/kinesis';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { TABLE } from '../functions/adapters/table-definition';
import { applyHeartbeat } from '../functions/core/detect';
import { sourceHeadsFor } from '../functions/core/fold';
import { parseHeartbeat } from '../functions/core/wire';
import { createHandler } from '../functions/ingest-heartbeat/handler';
import { createNodeStateTable, LOCAL_AWS, startDynamoDbLocal } from '../local/dynamodb-local';
import { kinesisRecord } from '../local/kinesis-records';
import { MemoryQuarantine } from '../local/memory-quarantine';
import { type BenchRow, printTable } from './table';

const BATCH = 500;
const context = { functionName: 'bench', awsRequestId: 'bench' } as Context;

export interface Scenario {
  name: string;
  clusters: number;
  nodesPerCluster: number;
  heartbeatsPerNode: number;
  /** Heartbeats of one node that land in the same batch (1 = steady state, 10 = a backlog being drained). */
  perNodePerBatch: number;
}

/** Heartbeats in delivery order: batches of BATCH records, `perNodePerBatch` consecutive ones per node. */
export function makeRecords(s: Scenario, t0: number): KinesisStreamRecord[] {
  const records: KinesisStreamRecord[] = [];
  const rounds = s.heartbeatsPerNode / s.perNodePerBatch;
  for (let round = 0; round < rounds; round++) {
    for (let c = 0; c < s.clusters; c++) {
      for (let n = 0; n < s.nodesPerCluster; n++) {
        for (let k = 0; k < s.perNodePerBatch; k++) {
          const seq = round * s.perNodePerBatch + k + 1;
          const at = t0 + seq * 10_000;
          const primary = n === 0;
          const position = `0/${(seq * 4096).toString(16).toUpperCase()}`;
          records.push(
            kinesisRecord({
              v: 1,
              clusterId: `bench-${c}`,
              nodeId: `n${n}`,
              engine: 'postgresql',
              role: primary ? 'primary' : 'replica',
              seq,
              observedAt: new Date(at).toISOString(),
              ...(primary
                ? { position }
                : {
                    replication: {
                      sourceNodeId: 'n0',
                      linkUp: true,
                      appliedPosition: position,
                      receivedPosition: position,
                    },
                  }),
            }),
          );
        }
      }
    }
  }
  return records;
}

function countingClient(endpoint: string) {
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const counts = { reads: 0, writes: 0 };
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      if (/^(Put|Update|Delete)/.test(String(ctx.commandName))) counts.writes++;
      else counts.reads++;
      return next(args);
    },
    { step: 'initialize', name: 'count' },
  );
  return { client, counts };
}

/** The naive baseline: every record on its own — read the cluster, apply, write. */
async function naive(store: DynamoNodeStateStore, records: KinesisStreamRecord[], now: number) {
  for (const record of records) {
    const hb = parseHeartbeat(JSON.parse(recordBytes(record).toString('utf8')));
    const snapshot = await store.loadCluster(hb.clusterId);
    const outcome = applyHeartbeat(snapshot.nodes.get(hb.nodeId), hb, {
      policy: snapshot.policy,
      now,
      sweepShards: TABLE.sweepShards,
      sourceHeads: sourceHeadsFor(snapshot.nodes, snapshot.sourceHeads, hb.replication?.sourceNodeId),
    });
    if (outcome.kind === 'applied') await store.putNode(outcome.state);
  }
}

export async function benchIngest(): Promise<BenchRow[]> {
  const ddb = await startDynamoDbLocal();
  const rows: BenchRow[] = [];
  try {
    const scenarios: Scenario[] = [
      {
        name: 'steady (1 hb/node/batch)',
        clusters: 100,
        nodesPerCluster: 5,
        heartbeatsPerNode: 3,
        perNodePerBatch: 1,
      },
      {
        name: 'backlog (10 hb/node/batch)',
        clusters: 10,
        nodesPerCluster: 5,
        heartbeatsPerNode: 30,
        perNodePerBatch: 10,
      },
    ];
    for (const scenario of scenarios) {
      const t0 = Date.parse('2026-11-22T23:00:00Z');
      const records = makeRecords(scenario, t0);
      const now = t0 + scenario.heartbeatsPerNode * 10_000 + 1;
      const results: Record<string, { seconds: number; reads: number; writes: number }> = {};
      for (const variant of ['coalescing', 'naive'] as const) {
        const tableName = `bench-${variant}-${Date.now()}`;
        await createNodeStateTable(ddb.endpoint, tableName);
        const { client, counts } = countingClient(ddb.endpoint);
        const store = new DynamoNodeStateStore(client, tableName);
        const handler = createHandler(
          { store, quarantine: new MemoryQuarantine(), sweepShards: TABLE.sweepShards },
          { logger: new Logger({ logLevel: 'SILENT' }), clock: () => now },
        );
        const started = process.hrtime.bigint();
        for (let i = 0; i < records.length; i += BATCH) {
          const batch = records.slice(i, i + BATCH);
          if (variant === 'naive') await naive(store, batch, now);
          else {
            const response = await handler({ Records: batch }, context);
            if (response.batchItemFailures.length > 0) throw new Error('benchmark batch had failures');
          }
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        results[variant] = { seconds, ...counts };
        client.destroy();
      }
      const ours = results.coalescing;
      const base = results.naive;
      if (!ours || !base) continue;
      const n = records.length;
      rows.push(
        {
          benchmark: 'ingest',
          scenario: scenario.name,
          metric: 'heartbeats/s',
          ours: n / ours.seconds,
          baseline: n / base.seconds,
          better: 'higher',
        },
        {
          benchmark: 'ingest',
          scenario: scenario.name,
          metric: 'write requests/heartbeat',
          ours: ours.writes / n,
          baseline: base.writes / n,
          better: 'lower',
        },
        {
          benchmark: 'ingest',
          scenario: scenario.name,
          metric: 'all requests/heartbeat',
          ours: (ours.reads + ours.writes) / n,
          baseline: (base.reads + base.writes) / n,
          better: 'lower',
        },
      );
    }
  } finally {
    await ddb.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable(await benchIngest());
}
