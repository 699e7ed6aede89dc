/**
 * `npm run sizing`: what replica-sentinel costs per month and where it hits limits at 100, 1,000, 10,000
 * and 100,000 nodes with 10 s heartbeats, computed from figures measured in the same run:
 * - the real ingest-heartbeat handler on DynamoDB Local in the steady state (each node once per batch):
 *   DynamoDB requests, write and read capacity units per heartbeat (DynamoDB's own ConsumedCapacity,
 *   indexes included), Kinesis record bytes per heartbeat, handler time per 500-record batch;
 * - the real sweep on a 10,000-node fleet with nothing overdue: read capacity units per sweep (index and
 *   table apart), requests and time per sweep.
 * Beside them, the same measurement and arithmetic of the baseline (commit BASELINE_COMMIT, bench/baseline.ts),
 * run from its own sources in the same run: its write units per heartbeat and its table.
 * Prices are list prices (us-east-1), written below so the arithmetic can be redone; the output shows every
 * step. See docs/SIZING.md.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
import { BASELINE_COMMIT, baselineTree } from './baseline';
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
  dynamoProvisionedWcuHour: 0.00065,
  dynamoProvisionedRcuHour: 0.00013,
  stepFunctionsTransitionsPerThousand: 0.025,
} as const;

const SECONDS_PER_MONTH = 30 * 24 * 3600;
const HEARTBEAT_SECONDS = 10;
const BATCH = 500;
const SHARD_RECORDS_PER_SECOND = 1000;
/** The sweep period the default policy gives (heartbeatTimeoutSeconds 30 / 3; functions/core/cadence.ts). */
const SWEEP_INTERVAL_SECONDS = 10;
const FUNCTION_MEMORY_GB = 0.5;
/** Auto scaling keeps provisioned capacity at this utilization (the CDK and console default, 70 %). */
const TARGET_UTILIZATION = 0.7;

const SWEEP_MEMORY_GB = SWEEP_MEMORY_MB / 1024;
/** Assumption, not a measurement: runbook executions per node per month and transitions per execution. */
const RUNBOOK_RUNS_PER_NODE_MONTH = 0.01;
const TRANSITIONS_PER_RUN = 30;

const context = { functionName: 'sizing', awsRequestId: 'sizing' } as Context;

function meteredClient(endpoint: string) {
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const meter = { requests: 0, writeUnits: 0, readUnits: 0, indexReadUnits: 0, indexRequests: 0 };
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
      if ((args.input as { IndexName?: string }).IndexName !== undefined) {
        meter.indexReadUnits += units;
        meter.indexRequests++;
      }
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
  /** Of which from the sweep index (the rest: node items read for their exact deadline). */
  sweepIndexReadUnits: number;
  sweepRequests: number;
  /** Wall time of that sweep on DynamoDB Local (an upper bound of the function's time). */
  sweepMs: number;
  /** The fleet census (NodesByStatus), once per sweep invocation: read units per node counted. */
  censusReadUnitsPerNode: number;
}

const CENSUS_FLEET = 10_000;

export async function measure(): Promise<Measured> {
  const ddb = await startDynamoDbLocal({ readyTimeoutMs: 120_000 });
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
    Object.assign(meter, { requests: 0, writeUnits: 0, readUnits: 0, indexReadUnits: 0, indexRequests: 0 });
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
    const sweepStarted = process.hrtime.bigint();
    await sweepOnce(
      { index: store, store, logger: new Logger({ logLevel: 'SILENT' }), shards: TABLE.sweepShards },
      now,
    );
    const sweepMs = Number(process.hrtime.bigint() - sweepStarted) / 1e6;
    const sweepMeter = { ...swept.meter };
    Object.assign(swept.meter, {
      requests: 0,
      writeUnits: 0,
      readUnits: 0,
      indexReadUnits: 0,
      indexRequests: 0,
    });
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
      sweepIndexReadUnits: Math.max(sweepMeter.indexReadUnits, sweepMeter.indexRequests * 0.5),
      sweepRequests: sweepMeter.requests,
      sweepMs,
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
  kinesisProvisioned: number;
  kinesisOnDemand: number;
  ingestInvocations: number;
  ingestLambda: number;
  ingestBusy: number;
  /** The sweep function. */
  sweep: number;
  /** Share of a sweep period one sweep takes at the time measured on DynamoDB Local. */
  sweepBusy: number;
  dynamoWrites: number;
  dynamoReads: number;
  /** Both at provisioned prices with auto scaling at TARGET_UTILIZATION (table and index, at least 1 unit each). */
  dynamoProvisioned: number;
  stepFunctions: number;
  /** Default deployment: provisioned heartbeat stream, on-demand table. */
  totalOnDemandTable: number;
  /** Provisioned heartbeat stream, provisioned table with auto scaling. */
  totalProvisionedTable: number;
}

/** Nodes the sweep measurement ran on. */
const SWEPT_FLEET = CENSUS_FLEET;
/** Read units of a sweep that finds no candidate: each of its 16 index queries is billed 0.5. */
const EMPTY_SWEEP_READ_UNITS = TABLE.sweepShards * 0.5;

/**
 * Monthly figures for a fleet, from the measured per-heartbeat and per-sweep costs. Pure arithmetic.
 * The heartbeat stream is provisioned (one shard per 1,000 heartbeats/s) and the change-events stream is
 * not deployed (no change streams configured); the sweep is one invocation a minute.
 */
export function size(nodes: number, m: Measured, p = PRICES): SizingRow {
  const hbps = nodes / HEARTBEAT_SECONDS;
  const hbMonth = hbps * SECONDS_PER_MONTH;
  const shards = Math.max(1, Math.ceil(hbps / SHARD_RECORDS_PER_SECOND));
  const kb = Math.max(1, Math.ceil(m.recordBytes / 1024));
  const gb = (hbMonth * kb) / 1024 / 1024;
  const kinesisOnDemand =
    720 * p.kinesisOnDemandStreamHour + gb * p.kinesisOnDemandIngestGb + gb * p.kinesisOnDemandRetrievalGb;
  const kinesisProvisioned =
    shards * 720 * p.kinesisProvisionedShardHour + (hbMonth / 1e6) * p.kinesisProvisionedPutUnitsPerMillion;
  // A shard's batching window is 1 s: one invocation per shard per second, more when a second brings > 500.
  const perShardPerSecond = hbps / shards;
  const invocationsPerShardSecond = Math.max(1, Math.ceil(perShardPerSecond / BATCH));
  const ingestInvocations = shards * invocationsPerShardSecond * SECONDS_PER_MONTH;
  const batchMs = (m.msPerBatch * Math.min(perShardPerSecond, BATCH)) / BATCH;
  const ingestBusy = (invocationsPerShardSecond * batchMs) / 1000;
  const ingestLambda =
    (ingestInvocations / 1e6) * p.lambdaRequestsPerMillion +
    ((ingestInvocations * batchMs) / 1000) * FUNCTION_MEMORY_GB * p.lambdaArmGbSecond;
  // The sweep: one invocation a minute that sweeps every period and returns after its last sweep (it holds
  // the function for the minute but one period), its time and reads growing with the fleet (every reporting
  // node is a candidate; docs/SIZING.md).
  const sweepsPerMonth = SECONDS_PER_MONTH / SWEEP_INTERVAL_SECONDS;
  const scale = nodes / SWEPT_FLEET;
  const sweepMs = SWEEP_BASE_MS + m.sweepMs * scale;
  const sweepBusy = sweepMs / 1000 / SWEEP_INTERVAL_SECONDS;
  const invocations = SECONDS_PER_MONTH / 60;
  const heldSeconds = Math.max(
    60 - SWEEP_INTERVAL_SECONDS + sweepMs / 1000,
    (60 / SWEEP_INTERVAL_SECONDS) * (sweepMs / 1000),
  );
  const sweep =
    (invocations / 1e6) * p.lambdaRequestsPerMillion +
    invocations * heldSeconds * SWEEP_MEMORY_GB * p.lambdaArmGbSecond;
  const sweepRead = EMPTY_SWEEP_READ_UNITS + Math.max(0, m.sweepReadUnits - EMPTY_SWEEP_READ_UNITS) * scale;
  const sweepIndexRead =
    EMPTY_SWEEP_READ_UNITS + Math.max(0, m.sweepIndexReadUnits - EMPTY_SWEEP_READ_UNITS) * scale;
  const censusesPerMonth = SECONDS_PER_MONTH / 60;
  const writesMonth = hbMonth * m.writeUnitsPerHeartbeat + nodes * BUCKET_MOVES_PER_NODE_MONTH * 2;
  const readsMonth =
    hbMonth * m.readUnitsPerHeartbeat +
    sweepsPerMonth * sweepRead +
    censusesPerMonth * nodes * m.censusReadUnitsPerNode;
  const dynamoWrites = (writesMonth / 1e6) * p.dynamoWriteUnitsPerMillion;
  const dynamoReads = (readsMonth / 1e6) * p.dynamoReadUnitsPerMillion;
  // Provisioned: capacity for the steady rate at the target utilization, the index's apart (its reads are the
  // sweep's candidate queries and the census, its writes the bucket moves).
  const indexReadsMonth =
    sweepsPerMonth * sweepIndexRead + censusesPerMonth * nodes * m.censusReadUnitsPerNode;
  const perSecond = (perMonth: number) => Math.max(1, perMonth / SECONDS_PER_MONTH / TARGET_UTILIZATION);
  const dynamoProvisioned =
    720 *
    (p.dynamoProvisionedWcuHour *
      (perSecond(hbMonth * m.writeUnitsPerHeartbeat) + perSecond(nodes * BUCKET_MOVES_PER_NODE_MONTH * 2)) +
      p.dynamoProvisionedRcuHour * (perSecond(readsMonth - indexReadsMonth) + perSecond(indexReadsMonth)));
  const stepFunctions =
    ((nodes * RUNBOOK_RUNS_PER_NODE_MONTH * TRANSITIONS_PER_RUN) / 1000) *
    p.stepFunctionsTransitionsPerThousand;
  const common = kinesisProvisioned + ingestLambda + sweep + stepFunctions;
  return {
    nodes,
    heartbeatsPerSecond: hbps,
    heartbeatsPerMonth: hbMonth,
    shards,
    kinesisProvisioned,
    kinesisOnDemand,
    ingestInvocations,
    ingestLambda,
    ingestBusy,
    sweep,
    sweepBusy,
    dynamoWrites,
    dynamoReads,
    dynamoProvisioned,
    stepFunctions,
    totalOnDemandTable: common + dynamoWrites + dynamoReads,
    totalProvisionedTable: common + dynamoProvisioned,
  };
}

/** A reporting node's index entry moves once a day (a bucket), 2 write units each time. */
const BUCKET_MOVES_PER_NODE_MONTH = SECONDS_PER_MONTH / (TABLE.sweepBucketMs / 1000);
/** Time of a sweep of an empty fleet (16 index queries): an assumption of 20 ms. */
const SWEEP_BASE_MS = 20;

const usd = (n: number) => `$${n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)}`;
const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M` : Math.round(n).toLocaleString('en-US');

export const FLEETS = [100, 1_000, 10_000, 100_000];

/** Write units per heartbeat with the index's bucket moves amortized (2 units per node per bucket). */
export function amortizedWriteUnits(m: Measured): number {
  return m.writeUnitsPerHeartbeat + (2 * HEARTBEAT_SECONDS * 1000) / TABLE.sweepBucketMs;
}

/** The fixed cost of a deployed stack with no traffic: what a fleet of 0 nodes pays. */
export function fixedCost(m: Measured, p = PRICES): { onDemandTable: number; provisionedTable: number } {
  const r = size(0, m, p);
  return { onDemandTable: r.totalOnDemandTable, provisionedTable: r.totalProvisionedTable };
}

export function report(m: Measured, fleets = FLEETS): string {
  const lines = [
    'Measured (real handlers, DynamoDB Local, this run):',
    `  ingest, steady state: ${m.requestsPerHeartbeat.toFixed(2)} DynamoDB requests, ${m.writeUnitsPerHeartbeat.toFixed(2)} write units and ${m.readUnitsPerHeartbeat.toFixed(2)} read units per heartbeat; ${Math.round(m.recordBytes)} bytes per Kinesis record; ${Math.round(m.msPerBatch)} ms per ${BATCH}-record batch`,
    `  write units per heartbeat with the sweep index's daily bucket move amortized: ${amortizedWriteUnits(m).toFixed(4)}`,
    `  sweep of a ${SWEPT_FLEET.toLocaleString('en-US')}-node fleet, nothing overdue: ${m.sweepReadUnits.toFixed(1)} read units (${m.sweepIndexReadUnits.toFixed(1)} from the index) in ${m.sweepRequests} requests, ${Math.round(m.sweepMs)} ms`,
    `  fleet census (once a minute): ${(m.censusReadUnitsPerNode * 1000).toFixed(2)} read units per 1,000 nodes`,
    '',
    `Per month (30 days), ${HEARTBEAT_SECONDS} s heartbeats, sweep every ${SWEEP_INTERVAL_SECONDS} s, us-east-1 list prices; heartbeat stream provisioned, no change-events stream:`,
    '',
    '| nodes | heartbeats/s | shards | Kinesis provisioned | (Kinesis on-demand) | ingest Lambda | ingest busy (per shard) | sweep Lambda | sweep busy | DynamoDB on-demand writes | DynamoDB on-demand reads | DynamoDB provisioned (auto scaling) | Step Functions | total, on-demand table | total, provisioned table | per node, provisioned table |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of fleets) {
    const r = size(n, m);
    lines.push(
      `| ${n.toLocaleString('en-US')} | ${count(r.heartbeatsPerSecond)} | ${r.shards} | ${usd(r.kinesisProvisioned)} | ${usd(r.kinesisOnDemand)} | ${usd(r.ingestLambda)} | ${(r.ingestBusy * 100).toFixed(0)}% | ${usd(r.sweep)} | ${(r.sweepBusy * 100).toFixed(0)}% | ${usd(r.dynamoWrites)} | ${usd(r.dynamoReads)} | ${usd(r.dynamoProvisioned)} | ${usd(r.stepFunctions)} | ${usd(r.totalOnDemandTable)} | ${usd(r.totalProvisionedTable)} | ${usd(r.totalProvisionedTable / n)} |`,
    );
  }
  const fixed = fixedCost(m);
  lines.push(
    '',
    `Fixed cost (a deployed stack, no traffic): ${usd(fixed.onDemandTable)} a month with the on-demand table, ${usd(fixed.provisionedTable)} with the provisioned table at its minimum (1 unit each way, table and index).`,
  );
  return lines.join('\n');
}

interface BaselineModule {
  measure(): Promise<{ writeUnitsPerHeartbeat: number }>;
  report(m: unknown): string;
  size(
    nodes: number,
    m: unknown,
  ): { totalOnDemand: number; totalProvisioned: number; kinesisOnDemand: number; sweepLambda: number };
}

/** The baseline's own sizing, from its own sources (bench/baseline.ts), measured in this run. */
export async function baselineSizing(): Promise<{
  measured: { writeUnitsPerHeartbeat: number };
  module: BaselineModule;
}> {
  const tree = baselineTree();
  const module = (await import(pathToFileURL(join(tree, 'bench', 'sizing.ts')).href)) as BaselineModule;
  // Its DynamoDB Local must answer within 30 s; on a loaded machine the first start can miss that.
  for (let attempt = 1; ; attempt++) {
    try {
      return { measured: await module.measure(), module };
    } catch (error) {
      if (attempt >= 3 || !/did not answer/.test((error as Error).message)) throw error;
      console.error(`baseline: ${(error as Error).message}; trying again`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const baseline = await baselineSizing();
  const measured = await measure();
  console.log(`Baseline (commit ${BASELINE_COMMIT}, its own handlers and arithmetic, measured in this run):`);
  console.log(baseline.module.report(baseline.measured));
  const old = (n: number) => baseline.module.size(n, baseline.measured);
  // The baseline's fixed cost, as issue 14 counts it: its two on-demand streams' hours and its sweep.
  const oldFixed = 2 * 720 * PRICES.kinesisOnDemandStreamHour + old(0).sweepLambda;
  console.log('');
  console.log(report(measured));
  console.log('');
  console.log('Before → after (this run):');
  console.log(
    `  write units per heartbeat: ${baseline.measured.writeUnitsPerHeartbeat.toFixed(2)} → ${measured.writeUnitsPerHeartbeat.toFixed(2)} (${amortizedWriteUnits(measured).toFixed(4)} with the bucket moves)`,
  );
  const fixed = fixedCost(measured);
  console.log(
    `  fixed cost a month: ${usd(oldFixed)} → ${usd(fixed.onDemandTable)} (on-demand table), ${usd(fixed.provisionedTable)} (provisioned table)`,
  );
  for (const n of FLEETS) {
    const now = size(n, measured);
    console.log(
      `  ${n.toLocaleString('en-US')} nodes a month: ${usd(old(n).totalOnDemand)} (on-demand) / ${usd(old(n).totalProvisioned)} (provisioned streams) → ${usd(now.totalOnDemandTable)} (on-demand table) / ${usd(now.totalProvisionedTable)} (provisioned table)`,
    );
  }
}
