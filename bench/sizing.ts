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
import { sweepsPerWindow } from '../functions/core/sweep-window';
import { createHandler } from '../functions/ingest-heartbeat/handler';
import { createHandler as createSweepHandler } from '../functions/sweep/handler';
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
  stepFunctionsExpressRequestsPerMillion: 1.0,
  /** Express duration, first tier (up to 1,000 GB-hours a month), billed per 100 ms in 64 MB steps. */
  stepFunctionsExpressGbSecond: 0.00001667,
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
  /**
   * One invocation of the real sweep handler (middleware, one sweep, the next slot) on an empty table: the
   * median of SWEEP_INVOCATIONS, warm. The fixed part of every sweep invocation's billed duration.
   */
  sweepInvocationMs: number;
  /** The fleet census (NodesByStatus), once per sweep invocation: read units per node counted. */
  censusReadUnitsPerNode: number;
}

const CENSUS_FLEET = 10_000;
/** Warm invocations of the sweep handler timed on an empty table. */
const SWEEP_INVOCATIONS = 20;

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

    // The sweep handler as the sweep state machine invokes it, once per slot, on a fleet of none.
    await createNodeStateTable(ddb.endpoint, 'sizing-empty');
    const emptyClient = documentClient({ ...LOCAL_AWS, endpoint: ddb.endpoint });
    const emptyStore = new DynamoNodeStateStore(emptyClient, 'sizing-empty');
    const sweepHandler = createSweepHandler(
      { index: emptyStore, store: emptyStore, shards: TABLE.sweepShards },
      { intervalSeconds: SWEEP_INTERVAL_SECONDS },
      { logger: new Logger({ logLevel: 'SILENT' }) },
    );
    const invocationMs: number[] = [];
    for (let i = 0; i < SWEEP_INVOCATIONS + 1; i++) {
      const started = process.hrtime.bigint();
      await sweepHandler({ index: 1 + (i % 4), windowStart: new Date().toISOString() }, context);
      // The first is the cold one (module and connection set-up): not what a warm slot costs.
      if (i > 0) invocationMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    emptyClient.destroy();
    invocationMs.sort((a, b) => a - b);
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
      sweepInvocationMs: invocationMs[Math.floor(invocationMs.length / 2)] ?? 0,
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
  /** The sweep function: one invocation per slot (ceil(60 / P) a minute). */
  sweep: number;
  /** The sweep state machine (Step Functions Express): one execution a minute, waiting between slots. */
  sweepMachine: number;
  /** For comparison: the sweep function held for the minute (until this change), instead of both lines above. */
  sweepHeld: number;
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
  // The sweep (docs/SIZING.md): the schedule starts one Express execution a minute, which invokes the sweep
  // function once per slot and waits between slots; a sweep's time and reads grow with the fleet (every
  // reporting node is a candidate).
  const slots = sweepsPerWindow(SWEEP_INTERVAL_SECONDS);
  const sweepsPerMonth = SECONDS_PER_MONTH / SWEEP_INTERVAL_SECONDS;
  const scale = nodes / SWEPT_FLEET;
  const sweepMs = m.sweepInvocationMs + m.sweepMs * scale;
  const sweepBusy = sweepMs / 1000 / SWEEP_INTERVAL_SECONDS;
  const executions = SECONDS_PER_MONTH / 60;
  const sweep =
    ((executions * slots) / 1e6) * p.lambdaRequestsPerMillion +
    executions * slots * (Math.ceil(sweepMs) / 1000) * SWEEP_MEMORY_GB * p.lambdaArmGbSecond;
  const sweepMachine =
    (executions / 1e6) * p.stepFunctionsExpressRequestsPerMillion +
    executions * expressSeconds(sweepMs, slots) * EXPRESS_MEMORY_GB * p.stepFunctionsExpressGbSecond;
  // Until this change: one invocation a minute that swept every period and returned after its last sweep.
  const heldSeconds = Math.max(
    60 - SWEEP_INTERVAL_SECONDS + sweepMs / 1000,
    (60 / SWEEP_INTERVAL_SECONDS) * (sweepMs / 1000),
  );
  const sweepHeld =
    (executions / 1e6) * p.lambdaRequestsPerMillion +
    executions * heldSeconds * SWEEP_MEMORY_GB * p.lambdaArmGbSecond;
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
  const common = kinesisProvisioned + ingestLambda + sweep + sweepMachine + stepFunctions;
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
    sweepMachine,
    sweepHeld,
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
/** An Express execution's memory, billed in 64 MB steps: the sweep machine's state is a few hundred bytes. */
const EXPRESS_MEMORY_GB = 64 / 1024;
/**
 * Per slot, what an execution spends beyond the function's own time: the state transitions and Lambda's
 * synchronous invoke round trip. An assumption (Step Functions publishes none): 50 ms.
 */
const SLOT_OVERHEAD_MS = 50;

/**
 * Billed seconds of one sweep execution: its slots every P seconds from the start, the last one's sweep,
 * rounded up to 100 ms. Sweeps slower than P fold the slots that passed (functions/core/sweep-window.ts): the
 * execution then sweeps back to back until the minute is over.
 */
export function expressSeconds(
  sweepMs: number,
  slots: number,
  intervalSeconds = SWEEP_INTERVAL_SECONDS,
): number {
  const perSlot = (sweepMs + SLOT_OVERHEAD_MS) / 1000;
  const seconds =
    perSlot < intervalSeconds ? (slots - 1) * intervalSeconds + perSlot : Math.ceil(60 / perSlot) * perSlot;
  return Math.ceil(seconds * 10) / 10;
}

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

/** The fixed cost with the sweep function held for the minute (the model before the sweep machine). */
export function fixedCostHeld(m: Measured, p = PRICES): { onDemandTable: number; provisionedTable: number } {
  const r = size(0, m, p);
  const swap = r.sweepHeld - r.sweep - r.sweepMachine;
  return { onDemandTable: r.totalOnDemandTable + swap, provisionedTable: r.totalProvisionedTable + swap };
}

export function report(m: Measured, fleets = FLEETS): string {
  const lines = [
    'Measured (real handlers, DynamoDB Local, this run):',
    `  ingest, steady state: ${m.requestsPerHeartbeat.toFixed(2)} DynamoDB requests, ${m.writeUnitsPerHeartbeat.toFixed(2)} write units and ${m.readUnitsPerHeartbeat.toFixed(2)} read units per heartbeat; ${Math.round(m.recordBytes)} bytes per Kinesis record; ${Math.round(m.msPerBatch)} ms per ${BATCH}-record batch`,
    `  write units per heartbeat with the sweep index's daily bucket move amortized: ${amortizedWriteUnits(m).toFixed(4)}`,
    `  sweep of a ${SWEPT_FLEET.toLocaleString('en-US')}-node fleet, nothing overdue: ${m.sweepReadUnits.toFixed(1)} read units (${m.sweepIndexReadUnits.toFixed(1)} from the index) in ${m.sweepRequests} requests, ${Math.round(m.sweepMs)} ms`,
    `  one sweep invocation (the handler, warm, empty table; median of ${SWEEP_INVOCATIONS}): ${m.sweepInvocationMs.toFixed(1)} ms; an Express execution a minute at P = ${SWEEP_INTERVAL_SECONDS} s is billed ${expressSeconds(m.sweepInvocationMs, sweepsPerWindow(SWEEP_INTERVAL_SECONDS)).toFixed(1)} s (${sweepsPerWindow(SWEEP_INTERVAL_SECONDS)} slots, ${SLOT_OVERHEAD_MS} ms assumed per slot beyond the function)`,
    `  fleet census (once a minute): ${(m.censusReadUnitsPerNode * 1000).toFixed(2)} read units per 1,000 nodes`,
    '',
    `Per month (30 days), ${HEARTBEAT_SECONDS} s heartbeats, sweep every ${SWEEP_INTERVAL_SECONDS} s, us-east-1 list prices; heartbeat stream provisioned, no change-events stream:`,
    '',
    '| nodes | heartbeats/s | shards | Kinesis provisioned | (Kinesis on-demand) | ingest Lambda | ingest busy (per shard) | sweep Lambda | sweep machine (Express) | (sweep held, before) | sweep busy | DynamoDB on-demand writes | DynamoDB on-demand reads | DynamoDB provisioned (auto scaling) | Step Functions | total, on-demand table | total, provisioned table | per node, provisioned table |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of fleets) {
    const r = size(n, m);
    lines.push(
      `| ${n.toLocaleString('en-US')} | ${count(r.heartbeatsPerSecond)} | ${r.shards} | ${usd(r.kinesisProvisioned)} | ${usd(r.kinesisOnDemand)} | ${usd(r.ingestLambda)} | ${(r.ingestBusy * 100).toFixed(0)}% | ${usd(r.sweep)} | ${usd(r.sweepMachine)} | ${usd(r.sweepHeld)} | ${(r.sweepBusy * 100).toFixed(0)}% | ${usd(r.dynamoWrites)} | ${usd(r.dynamoReads)} | ${usd(r.dynamoProvisioned)} | ${usd(r.stepFunctions)} | ${usd(r.totalOnDemandTable)} | ${usd(r.totalProvisionedTable)} | ${usd(r.totalProvisionedTable / n)} |`,
    );
  }
  const fixed = fixedCost(m);
  const held = fixedCostHeld(m);
  lines.push(
    '',
    `Fixed cost (a deployed stack, no traffic): ${usd(fixed.onDemandTable)} a month with the on-demand table, ${usd(fixed.provisionedTable)} with the provisioned table at its minimum (1 unit each way, table and index).`,
    `  with the sweep held for the minute instead (before the sweep machine): ${usd(held.onDemandTable)} / ${usd(held.provisionedTable)}; the sweep alone: ${usd(size(0, m).sweepHeld)} held → ${usd(size(0, m).sweep + size(0, m).sweepMachine)} (${usd(size(0, m).sweepMachine)} Express + ${usd(size(0, m).sweep)} Lambda).`,
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
  console.log(
    `  of which the sweep: ${usd(size(0, measured).sweepHeld)} held for the minute → ${usd(size(0, measured).sweep + size(0, measured).sweepMachine)} with the sweep machine (fixed cost with the held sweep: ${usd(fixedCostHeld(measured).onDemandTable)})`,
  );
  for (const n of FLEETS) {
    const now = size(n, measured);
    console.log(
      `  ${n.toLocaleString('en-US')} nodes a month: ${usd(old(n).totalOnDemand)} (on-demand) / ${usd(old(n).totalProvisioned)} (provisioned streams) → ${usd(now.totalOnDemandTable)} (on-demand table) / ${usd(now.totalProvisionedTable)} (provisioned table)`,
    );
  }
}
