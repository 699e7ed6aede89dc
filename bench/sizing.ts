/**
 * `npm run sizing`: what replica-sentinel costs per month and where it hits limits at 100, 1,000, 10,000
 * and 100,000 nodes with 10 s heartbeats, computed from figures measured in the same run:
 * - the real ingest-heartbeat handler on DynamoDB Local in the steady state (each node once per batch):
 *   DynamoDB requests, write and read capacity units per heartbeat (DynamoDB's own ConsumedCapacity,
 *   indexes included), Kinesis record bytes per heartbeat, handler time per 500-record batch;
 * - the real sweep on a 10,000-node fleet with nothing overdue: read capacity units per sweep.
 * Prices are list prices (us-east-1, on-demand), written below with their source so the arithmetic can be
 * redone; the output shows every step. See docs/SIZING.md.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { documentClient } from '../functions/adapters/clients';
import { DynamoFleetCensus } from '../functions/adapters/fleet-census';
import { recordBytes } from '../functions/adapters/kinesis';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { TABLE } from '../functions/adapters/table-definition';
import { createHandler } from '../functions/ingest-heartbeat/handler';
import { sweepOnce } from '../functions/sweep/sweep';
import { SWEEP_MEMORY_MB } from '../infra/constructs/detector';
import { createNodeStateTable, LOCAL_AWS, startDynamoDbLocal } from '../local/dynamodb-local';
import { fleet, putItems } from '../local/fleet';
import { MemoryQuarantine } from '../local/memory-quarantine';
import { makeRecords } from './ingest';

/** us-east-1 list prices (USD), on-demand, as published by AWS in 2026; edit here to redo the table. */
export const PRICES = {
  kinesisOnDemandStreamHour: 0.04,
  kinesisOnDemandIngestGb: 0.08,
  kinesisOnDemandRetrievalGb: 0.04,
  kinesisProvisionedShardHour: 0.015,
  kinesisProvisionedPutUnitsPerMillion: 0.014,
  lambdaRequestsPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334,
  dynamoWriteUnitsPerMillion: 0.625,
  dynamoReadUnitsPerMillion: 0.125,
  stepFunctionsTransitionsPerThousand: 0.025,
} as const;

const SECONDS_PER_MONTH = 30 * 24 * 3600;
const HEARTBEAT_SECONDS = 10;
const BATCH = 500;
const SHARD_RECORDS_PER_SECOND = 1000;
const SWEEP_INTERVAL_SECONDS = 10;
const FUNCTION_MEMORY_GB = 0.5;
const SWEEP_MEMORY_GB = SWEEP_MEMORY_MB / 1024;
/** Assumption, not a measurement: runbook executions per node per month and transitions per execution. */
const RUNBOOK_RUNS_PER_NODE_MONTH = 0.01;
const TRANSITIONS_PER_RUN = 30;

const context = { functionName: 'sizing', awsRequestId: 'sizing' } as Context;

function meteredClient(endpoint: string) {
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const meter = { requests: 0, writeUnits: 0, readUnits: 0 };
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      const name = String(ctx.commandName);
      if (!/^Transact/.test(name)) Object.assign(args.input as object, { ReturnConsumedCapacity: 'INDEXES' });
      const result = await next(args);
      meter.requests++;
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      const units = consumed?.CapacityUnits ?? 0;
      if (/^(Put|Update|Delete|BatchWrite)/.test(name)) meter.writeUnits += units;
      else meter.readUnits += units;
      return result;
    },
    { step: 'initialize', name: 'meter' },
  );
  return { client, meter };
}

export interface Measured {
  requestsPerHeartbeat: number;
  writeUnitsPerHeartbeat: number;
  readUnitsPerHeartbeat: number;
  recordBytes: number;
  msPerBatch: number;
  sweepReadUnits: number;
  sweepRequests: number;
  /** The fleet census (NodesByStatus), once per sweep invocation: read units per node counted. */
  censusReadUnitsPerNode: number;
}

const CENSUS_FLEET = 10_000;

export async function measure(): Promise<Measured> {
  const ddb = await startDynamoDbLocal();
  try {
    const t0 = Date.parse('2026-11-22T23:00:00Z');
    const scenario = {
      name: 'steady',
      clusters: 100,
      nodesPerCluster: 5,
      heartbeatsPerNode: 4,
      perNodePerBatch: 1,
    };
    const records = makeRecords(scenario, t0);
    const now = t0 + scenario.heartbeatsPerNode * 10_000 + 1;
    await createNodeStateTable(ddb.endpoint, 'sizing-ingest');
    const { client, meter } = meteredClient(ddb.endpoint);
    const handler = createHandler(
      {
        store: new DynamoNodeStateStore(client, 'sizing-ingest'),
        quarantine: new MemoryQuarantine(),
        sweepShards: TABLE.sweepShards,
      },
      { logger: new Logger({ logLevel: 'SILENT' }), clock: () => now },
    );
    // The first round creates the items (a node's first heartbeat); the steady state is what follows.
    const first = records.slice(0, BATCH);
    if ((await handler({ Records: first }, context)).batchItemFailures.length > 0)
      throw new Error('sizing: first batch failed');
    const steady = records.slice(BATCH);
    Object.assign(meter, { requests: 0, writeUnits: 0, readUnits: 0 });
    const started = process.hrtime.bigint();
    for (let i = 0; i < steady.length; i += BATCH) {
      const response = await handler({ Records: steady.slice(i, i + BATCH) }, context);
      if (response.batchItemFailures.length > 0) throw new Error('sizing: a batch had failures');
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const bytes = steady.reduce((sum, r) => sum + recordBytes(r).length, 0) / steady.length;
    const ingest = { ...meter };
    client.destroy();

    await createNodeStateTable(ddb.endpoint, 'sizing-sweep');
    const loader = documentClient({ ...LOCAL_AWS, endpoint: ddb.endpoint });
    await putItems(loader, 'sizing-sweep', fleet(CENSUS_FLEET / 4, 4, now, []));
    loader.destroy();
    const swept = meteredClient(ddb.endpoint);
    const store = new DynamoNodeStateStore(swept.client, 'sizing-sweep');
    await sweepOnce(
      { index: store, store, logger: new Logger({ logLevel: 'SILENT' }), shards: TABLE.sweepShards },
      now,
    );
    const sweepMeter = { ...swept.meter };
    Object.assign(swept.meter, { requests: 0, writeUnits: 0, readUnits: 0 });
    await new DynamoFleetCensus(swept.client, 'sizing-sweep').countByStatus(TABLE.sweepShards);
    const census = { ...swept.meter };
    swept.client.destroy();
    return {
      requestsPerHeartbeat: ingest.requests / steady.length,
      writeUnitsPerHeartbeat: ingest.writeUnits / steady.length,
      readUnitsPerHeartbeat: ingest.readUnits / steady.length,
      recordBytes: bytes,
      msPerBatch: ms / Math.ceil(steady.length / BATCH),
      // DynamoDB Local reports 0 units for a query that finds nothing; DynamoDB bills at least 0.5 (an
      // eventually consistent read), so each of the sweep's requests counts at least that.
      sweepReadUnits: Math.max(sweepMeter.readUnits, sweepMeter.requests * 0.5),
      sweepRequests: sweepMeter.requests,
      censusReadUnitsPerNode: Math.max(census.readUnits, census.requests * 0.5) / CENSUS_FLEET,
    };
  } finally {
    await ddb.stop();
  }
}

export interface SizingRow {
  nodes: number;
  heartbeatsPerSecond: number;
  heartbeatsPerMonth: number;
  shards: number;
  kinesisOnDemand: number;
  kinesisProvisioned: number;
  ingestInvocations: number;
  ingestLambda: number;
  ingestBusy: number;
  sweepLambda: number;
  dynamoWrites: number;
  dynamoReads: number;
  stepFunctions: number;
  totalOnDemand: number;
  totalProvisioned: number;
}

/** Monthly figures for a fleet, from the measured per-heartbeat and per-sweep costs. Pure arithmetic. */
export function size(nodes: number, m: Measured, p = PRICES): SizingRow {
  const hbps = nodes / HEARTBEAT_SECONDS;
  const hbMonth = hbps * SECONDS_PER_MONTH;
  const shards = Math.max(1, Math.ceil(hbps / SHARD_RECORDS_PER_SECOND));
  const streams = 2;
  // On-demand: two streams' hours, each record billed as at least 1 KB in and read once by one consumer.
  const kb = Math.max(1, Math.ceil(m.recordBytes / 1024));
  const gb = (hbMonth * kb) / 1024 / 1024;
  const kinesisOnDemand =
    streams * 720 * p.kinesisOnDemandStreamHour +
    gb * p.kinesisOnDemandIngestGb +
    gb * p.kinesisOnDemandRetrievalGb;
  const kinesisProvisioned =
    (shards + 1) * 720 * p.kinesisProvisionedShardHour +
    (hbMonth / 1e6) * p.kinesisProvisionedPutUnitsPerMillion;
  // A shard's batching window is 1 s: one invocation per shard per second, more when a second brings > 500.
  const perShardPerSecond = hbps / shards;
  const invocationsPerShardSecond = Math.max(1, Math.ceil(perShardPerSecond / BATCH));
  const ingestInvocations = shards * invocationsPerShardSecond * SECONDS_PER_MONTH;
  const batchMs = (m.msPerBatch * Math.min(perShardPerSecond, BATCH)) / BATCH;
  const ingestBusy = (invocationsPerShardSecond * batchMs) / 1000;
  const ingestLambda =
    (ingestInvocations / 1e6) * p.lambdaRequestsPerMillion +
    ((ingestInvocations * batchMs) / 1000) * FUNCTION_MEMORY_GB * p.lambdaArmGbSecond;
  // The sweep: one invocation a minute that stays for the minute (6 sweeps), whatever the fleet size.
  const sweepInvocations = SECONDS_PER_MONTH / 60;
  const sweepLambda =
    (sweepInvocations / 1e6) * p.lambdaRequestsPerMillion +
    sweepInvocations * 60 * SWEEP_MEMORY_GB * p.lambdaArmGbSecond;
  const sweepsPerMonth = SECONDS_PER_MONTH / SWEEP_INTERVAL_SECONDS;
  const dynamoWrites = ((hbMonth * m.writeUnitsPerHeartbeat) / 1e6) * p.dynamoWriteUnitsPerMillion;
  const dynamoReads =
    ((hbMonth * m.readUnitsPerHeartbeat +
      sweepsPerMonth * m.sweepReadUnits +
      sweepInvocations * nodes * m.censusReadUnitsPerNode) /
      1e6) *
    p.dynamoReadUnitsPerMillion;
  const stepFunctions =
    ((nodes * RUNBOOK_RUNS_PER_NODE_MONTH * TRANSITIONS_PER_RUN) / 1000) *
    p.stepFunctionsTransitionsPerThousand;
  const common = ingestLambda + sweepLambda + dynamoWrites + dynamoReads + stepFunctions;
  return {
    nodes,
    heartbeatsPerSecond: hbps,
    heartbeatsPerMonth: hbMonth,
    shards,
    kinesisOnDemand,
    kinesisProvisioned,
    ingestInvocations,
    ingestLambda,
    ingestBusy,
    sweepLambda,
    dynamoWrites,
    dynamoReads,
    stepFunctions,
    totalOnDemand: common + kinesisOnDemand,
    totalProvisioned: common + kinesisProvisioned,
  };
}

const usd = (n: number) => `$${n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)}`;
const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M` : Math.round(n).toLocaleString('en-US');

export function report(m: Measured, fleets = [100, 1_000, 10_000, 100_000]): string {
  const lines = [
    'Measured (real handlers, DynamoDB Local, this run):',
    `  ingest, steady state: ${m.requestsPerHeartbeat.toFixed(2)} DynamoDB requests, ${m.writeUnitsPerHeartbeat.toFixed(2)} write units and ${m.readUnitsPerHeartbeat.toFixed(2)} read units per heartbeat; ${Math.round(m.recordBytes)} bytes per Kinesis record; ${Math.round(m.msPerBatch)} ms per ${BATCH}-record batch`,
    `  sweep of a 10,000-node fleet, nothing overdue: ${m.sweepReadUnits.toFixed(1)} read units in ${m.sweepRequests} requests`,
    `  fleet census (once a minute): ${(m.censusReadUnitsPerNode * 1000).toFixed(2)} read units per 1,000 nodes`,
    '',
    `Per month (30 days), ${HEARTBEAT_SECONDS} s heartbeats, us-east-1 list prices:`,
    '',
    '| nodes | heartbeats/s | heartbeats/month | shards | Kinesis on-demand | Kinesis provisioned | ingest invocations | ingest Lambda | ingest busy (per shard) | sweep Lambda | DynamoDB writes | DynamoDB reads | Step Functions | total (on-demand) | total (provisioned) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of fleets) {
    const r = size(n, m);
    lines.push(
      `| ${n.toLocaleString('en-US')} | ${count(r.heartbeatsPerSecond)} | ${count(r.heartbeatsPerMonth)} | ${r.shards} | ${usd(r.kinesisOnDemand)} | ${usd(r.kinesisProvisioned)} | ${count(r.ingestInvocations)} | ${usd(r.ingestLambda)} | ${(r.ingestBusy * 100).toFixed(0)}% | ${usd(r.sweepLambda)} | ${usd(r.dynamoWrites)} | ${usd(r.dynamoReads)} | ${usd(r.stepFunctions)} | ${usd(r.totalOnDemand)} | ${usd(r.totalProvisioned)} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(report(await measure()));
}
