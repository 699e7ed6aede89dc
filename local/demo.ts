/**
 * `replica-sentinel demo --simulated`, and the fallback of `replica-sentinel demo` when redis-server is not
 * installed (local/redis-demo.ts runs the real-Redis demo): a scripted PostgreSQL-like cluster of SIMULATED nodes — a primary and two
 * replicas sending heartbeats, and a change stream — run through the real pipeline on a real DynamoDB
 * Local, on a virtual clock: ingest handlers, the silence sweep, the table stream read through the
 * DynamoDB Streams API into on-transition, incidents and Chatbot-format notifications printed.
 *
 * Script: pg-3's replay pauses at +60 s and resumes at +180 s (STALLED, incident opened, resolved);
 * the primary pg-1 dies at +300 s and both replicas report their link down (SILENT, then DEAD by quorum,
 * a critical incident handed to the primary-failover runbook, which runs from the synthesized state machine
 * in dry-run mode: it re-verifies, takes the lock, chooses the candidate and announces the plan).
 * Succeeds only if all of that was seen.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { documentClient } from '../functions/adapters/clients';
import { DynamoIncidentStore } from '../functions/adapters/incident-store';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { RecoveryStore } from '../functions/adapters/recovery-store';
import { keys, TABLE, TRANSITION_FILTER_PATTERN } from '../functions/adapters/table-definition';
import { createHandler as createChangeHandler } from '../functions/ingest-change-stream/handler';
import { createHandler as createHeartbeatHandler } from '../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../functions/on-transition/handler';
import { createHandler as createSteps } from '../functions/runbook-steps/handler';
import { sweepOnce } from '../functions/sweep/sweep';
import { createNodeStateTable, LOCAL_AWS, startDynamoDbLocal } from './dynamodb-local';
import { matchesFilter } from './event-filter';
import { kinesisRecord } from './kinesis-records';
import { MemoryNotifier } from './memory-notifier';
import { MemoryQuarantine } from './memory-quarantine';
import { LocalRunbookLauncher } from './runbook-launcher';
import { StreamPoller } from './stream-poller';

const context = { functionName: 'demo', awsRequestId: 'demo' } as Context;
const T0 = Date.parse('2026-11-22T23:00:00Z');
const lsn = (n: number) => `0/${n.toString(16).toUpperCase()}`;
const CLUSTER = 'orders-pg';

interface Event {
  at: number;
  nodeId: string;
  from: string;
  to: string;
  reason: string;
}

export interface SimulatedDemoOptions {
  /** One JSON summary instead of the timeline. */
  readonly json: boolean;
  readonly out: (text: string) => void;
  /** Stops the run (Ctrl-C): DynamoDB Local is stopped and the exit code is 130. */
  readonly signal?: AbortSignal;
}

/** Runs the simulated demo; returns the exit code (0: everything was seen, 1: not, 130: interrupted). */
export async function runSimulatedDemo(options: SimulatedDemoOptions): Promise<number> {
  const { json } = options;
  const say = (line: string) => {
    if (!json) options.out(line);
  };
  say('replica-sentinel demo — SIMULATED nodes (no database servers), real handlers, real DynamoDB Local');
  const ddb = await startDynamoDbLocal();
  const tableName = 'replica-sentinel-demo';
  await createNodeStateTable(ddb.endpoint, tableName);
  const client = documentClient({ ...LOCAL_AWS, endpoint: ddb.endpoint });
  const poller = new StreamPoller(ddb.endpoint, tableName);
  try {
    await poller.start('TRIM_HORIZON');
    const store = new DynamoNodeStateStore(client, tableName);
    let now = T0;
    const logger = new Logger({ logLevel: 'SILENT' });
    const quarantine = new MemoryQuarantine();
    const notifier = new MemoryNotifier((line) => say(`            ${line}`));
    const heartbeats = createHeartbeatHandler(
      { store, quarantine, sweepShards: TABLE.sweepShards },
      { logger, clock: () => now },
    );
    const changes = createChangeHandler({ store, quarantine }, { logger, clock: () => now });
    // The cluster is in dry-run mode: the nodes are simulated, so the failover runbook (the synthesized state
    // machine, run locally with the real steps) computes, records and announces its plan and touches nothing.
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          PK: keys.clusterPk(CLUSTER),
          SK: keys.clusterMetaSk,
          type: 'cluster',
          mode: 'dry-run',
          nodes: ['pg-1', 'pg-2', 'pg-3'].map((nodeId, i) => ({
            nodeId,
            url: `postgresql://127.0.0.1:${15432 + i}/postgres`,
          })),
        },
      }),
    );
    const steps = createSteps(
      {
        recovery: new RecoveryStore(client, tableName),
        nodes: store,
        hooks: {
          run: async () => {
            throw new Error('simulated nodes: the demo runs in dry-run mode and never calls a hook');
          },
          verifyPrimary: async () => undefined,
          serving: async () => ({ state: 'unknown', detail: 'simulated nodes cannot be asked' }),
          replicationProgress: async () => undefined,
        },
        notifier,
        clock: () => now,
      },
      { logger },
    );
    const stepsContext = {
      functionName: 'runbook-steps',
      awsRequestId: 'demo',
      getRemainingTimeInMillis: () => 60_000,
    } as Context;
    const runbooks = new LocalRunbookLauncher({
      steps: (payload) => steps(payload as Parameters<typeof steps>[0], stepsContext),
      onFinished: (name, run) => say(`            [runbook] ${name}: ${run.states.join(' → ')}`),
    });
    const onTransition = createOnTransition(
      { incidents: new DynamoIncidentStore(client, tableName), nodes: store, notifier, runbooks },
      { logger },
    );
    say(`DynamoDB Local on ${ddb.endpoint}, table ${tableName}; virtual time, one tick = 10 s\n`);

    const events: Event[] = [];
    const seen = new Map<string, string>();
    let head = 0x3000000;
    let applied3 = head;
    for (let tick = 0; tick <= 48; tick++) {
      if (options.signal?.aborted) return 130;
      now = T0 + tick * 10_000;
      const at = new Date(now).toISOString();
      const primaryAlive = tick < 30;
      const stalled = tick >= 6 && tick < 18;
      if (tick === 6) say(`t=+${tick * 10}s   (pausing replay on pg-3)`);
      if (tick === 18) say(`t=+${tick * 10}s  (resuming replay on pg-3)`);
      if (tick === 30) say(`t=+${tick * 10}s  (killing the primary pg-1)`);
      if (primaryAlive) head += 8192;
      if (!stalled) applied3 = head - 1024;
      const hb = (nodeId: string, extra: object) =>
        kinesisRecord({
          v: 1,
          clusterId: CLUSTER,
          nodeId,
          engine: 'postgresql',
          seq: tick + 1,
          observedAt: at,
          ...extra,
        });
      const replica = (nodeId: string, position: number) =>
        hb(nodeId, {
          role: 'replica',
          replication: {
            sourceNodeId: 'pg-1',
            linkUp: primaryAlive,
            appliedPosition: lsn(position),
            paused: nodeId === 'pg-3' && stalled,
          },
        });
      if (primaryAlive) {
        await changes(
          {
            Records: [
              kinesisRecord({
                v: 1,
                clusterId: CLUSTER,
                engine: 'postgresql',
                position: lsn(head),
                committedAt: at,
              }),
            ],
          },
          context,
        );
      }
      await heartbeats(
        {
          Records: [
            ...(primaryAlive ? [hb('pg-1', { role: 'primary', position: lsn(head) })] : []),
            replica('pg-2', head - 512),
            replica('pg-3', applied3),
          ],
        },
        context,
      );
      await sweepOnce({ index: store, store, logger, shards: TABLE.sweepShards }, now);
      const records = (await poller.poll()).filter((r) => matchesFilter(TRANSITION_FILTER_PATTERN, r));
      for (const record of records) {
        const image = record.dynamodb?.NewImage;
        const nodeId = image?.nodeId?.S ?? '?';
        const to = image?.transitionTo?.S ?? '?';
        const from = image?.transitionFrom?.S ?? seen.get(nodeId) ?? '-';
        seen.set(nodeId, to);
        const reason = image?.statusReason?.S ?? '';
        events.push({ at: now - T0, nodeId, from, to, reason });
        say(
          `t=+${String((now - T0) / 1000).padEnd(4)}s ${nodeId.padEnd(5)} ${from.padEnd(8)} -> ${to.padEnd(8)} ${reason}`,
        );
      }
      if (records.length > 0) await onTransition({ Records: records }, context);
      await runbooks.settled();
    }

    const nodes = [...(await store.loadCluster(CLUSTER)).nodes.values()];
    const find = (nodeId: string, to: string, from?: string) =>
      events.find((e) => e.nodeId === nodeId && e.to === to && (from === undefined || e.from === from));
    const stall = find('pg-3', 'STALLED');
    const recovered = find('pg-3', 'HEALTHY', 'STALLED');
    const dead = find('pg-1', 'DEAD');
    const planned = notifier.published.some((n) => n.metadata.eventType === 'runbook-dry-run');
    const ok = stall !== undefined && recovered !== undefined && dead !== undefined && planned;
    const summary = {
      simulated: true,
      // Nothing is failed over for real: the cluster is in dry-run mode.
      failoverCompletedAfterMs: null,
      promotedNode: null,
      stallDetectedAfterMs: stall ? stall.at - 60_000 : null,
      recoveredAfterMs: recovered ? recovered.at - 180_000 : null,
      deadDetectedAfterMs: dead ? dead.at - 300_000 : null,
      notifications: notifier.published.map((n) => n.content.title),
      events,
      nodes: nodes.map((n) => ({
        clusterId: n.clusterId,
        nodeId: n.nodeId,
        role: n.role,
        status: n.status,
        position: n.appliedPosition ?? n.position,
      })),
    };
    if (json) options.out(JSON.stringify(summary, null, 2));
    else {
      options.out('\nnode   role     status   position');
      for (const n of summary.nodes)
        options.out(`${n.nodeId.padEnd(6)} ${n.role.padEnd(8)} ${n.status.padEnd(8)} ${n.position ?? ''}`);
      options.out(
        ok
          ? `\nOK (virtual time): stall caught ${summary.stallDetectedAfterMs} ms after replay stopped, HEALTHY ${summary.recoveredAfterMs} ms after it resumed, primary DEAD ${summary.deadDetectedAfterMs} ms after it died; ${notifier.published.length} notifications`
          : '\nFAILED: the stall, the recovery, the dead primary or the failover plan was not seen',
      );
    }
    return ok ? 0 : 1;
  } finally {
    poller.close();
    client.destroy();
    await ddb.stop();
  }
}
