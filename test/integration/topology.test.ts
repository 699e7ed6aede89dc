import { describe, expect, it } from '@jest/globals';
import type { DynamoDBBatchResponse } from 'aws-lambda';
import { keys, TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import type { Incident } from '../../functions/core/incidents';
import { type NodeState, withTransition } from '../../functions/core/node-state';
import type { HeartbeatInput } from '../../functions/core/wire';
import { sweepOnce } from '../../functions/sweep/sweep';
import { matchesFilter } from '../../local/event-filter';
import { MemoryNotifier } from '../../local/memory-notifier';
import { ingestOn, onTransitionOn } from '../support/handlers';
import { iso, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { putClusterItem } from '../support/table-items';
import { useStreamedTable } from '../support/transitions';

const silent = silentLogger();
const context = lambdaContext();
const OLD = '1'.repeat(40);
const NEW = '2'.repeat(40);

/** A Redis primary's report of itself. */
function primary(
  clusterId: string,
  nodeId: string,
  seq: number,
  at: number,
  position: string,
): HeartbeatInput {
  return { v: 1, clusterId, nodeId, engine: 'redis', role: 'primary', seq, observedAt: iso(at), position };
}

/** A Redis replica's report of itself, following `source` (undefined: it names none). */
function replica(
  clusterId: string,
  nodeId: string,
  seq: number,
  at: number,
  source: string | undefined,
  applied: string,
  linkUp = true,
): HeartbeatInput {
  return {
    v: 1,
    clusterId,
    nodeId,
    engine: 'redis',
    role: 'replica',
    seq,
    observedAt: iso(at),
    replication: { ...(source ? { sourceNodeId: source } : {}), linkUp, appliedPosition: applied },
  };
}

describe('topology truth and restart-empty detection through ingest, sweep and on-transition', () => {
  const { table, poller } = useStreamedTable('topology');

  /** The real handlers on the test table, with a clock the test moves. */
  function pipeline(clusterId: string) {
    let now = T0;
    const notifier = new MemoryNotifier();
    const started: Pick<Incident, 'incidentId' | 'nodeId' | 'kind' | 'runbook'>[] = [];
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    const onTransition = onTransitionOn(
      table,
      {
        notifier,
        runbooks: {
          start: async (incident) => {
            started.push({
              incidentId: incident.incidentId,
              nodeId: incident.nodeId,
              kind: incident.kind,
              runbook: incident.runbook,
            });
            return { note: 'test launcher' };
          },
        },
      },
      silent,
    );
    return {
      notifier,
      started,
      at: (ms: number) => {
        now = ms;
      },
      send: async (reports: HeartbeatInput[]) => {
        await ingest(kinesisEvent(reports.map((r) => kinesisRecord(r))), context);
      },
      sweep: () =>
        sweepOnce({ index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards }, now),
      /** Delivers the status changes of this cluster the stream carries (what the event filter lets through). */
      deliver: async () => {
        const records = (await poller.poll()).filter(
          (r) =>
            r.dynamodb?.Keys?.PK?.S === keys.clusterPk(clusterId) &&
            matchesFilter(TRANSITION_FILTER_PATTERN, r),
        );
        const response = (await onTransition({ Records: records }, context)) as DynamoDBBatchResponse;
        expect(response.batchItemFailures).toEqual([]);
        return records.map(
          (r) => `${r.dynamodb?.NewImage?.nodeId?.S}:${r.dynamodb?.NewImage?.transitionTo?.S}`,
        );
      },
      meta: (fields: Record<string, unknown>) =>
        putClusterItem(table, clusterId, { mode: 'auto', ...fields }),
      /** What the failover's Fence step writes on the old primary. */
      fence: async (nodeId: string, epoch: number) => {
        const old = (await table.getNode(clusterId, nodeId)) as NodeState;
        const fenced = withTransition(
          {
            ...old,
            status: 'FENCED',
            statusSince: now,
            statusReason: `fenced at epoch ${epoch}`,
            version: old.version + 1,
          },
          old,
        );
        expect(await table.store.putNode(fenced)).toBe('written');
      },
      incidents: async () =>
        (await table.clusterItems(clusterId)).filter((item) =>
          String(item.SK).startsWith('INCIDENT#'),
        ) as unknown as Incident[],
    };
  }

  it('reads the recorded primary, epoch and lock from the META item in the same cluster read', async () => {
    const clusterId = 'topology-meta';
    const p = pipeline(clusterId);
    await p.meta({ primaryNodeId: 'r2', epoch: 3, lockIncidentId: 'inc-9' });
    await p.send([primary(clusterId, 'r2', 1, T0, `${OLD}:10`)]);
    const snapshot = await table.store.loadCluster(clusterId);
    expect(snapshot).toMatchObject({ primaryNodeId: 'r2', epoch: 3, lockIncidentId: 'inc-9' });
    expect([...snapshot.nodes.keys()]).toEqual(['r2']);
    const bare = await table.store.loadCluster('topology-no-meta');
    expect(bare).toMatchObject({ epoch: 0 });
    expect(bare.primaryNodeId).toBeUndefined();
    expect(bare.lockIncidentId).toBeUndefined();
  });

  it('raises SPLIT_BRAIN for the old primary restarted as it was, WRONG_SOURCE for its replica, and ends both', async () => {
    const clusterId = 'returning-primary';
    const p = pipeline(clusterId);
    await p.meta({ epoch: 0 });
    // r1 is primary, r2 and r3 follow it.
    await p.send([
      primary(clusterId, 'r1', 1, T0, `${OLD}:5000`),
      replica(clusterId, 'r2', 1, T0, 'r1', `${OLD}:5000`),
      replica(clusterId, 'r3', 1, T0, 'r1', `${OLD}:5000`),
    ]);
    // r1 is killed: its replicas lose their link, the sweep declares it DEAD.
    p.at(T0 + 35_000);
    await p.send([
      replica(clusterId, 'r2', 2, T0 + 35_000, 'r1', `${OLD}:5000`, false),
      replica(clusterId, 'r3', 2, T0 + 35_000, 'r1', `${OLD}:5000`, false),
    ]);
    await p.sweep();
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({ status: 'DEAD' });
    // The failover (simulated: what its steps write): fence r1 at epoch 1, promote r2, record it. r3's
    // repoint failed and the run ended (no lock).
    p.at(T0 + 40_000);
    await p.fence('r1', 1);
    await p.meta({ epoch: 1, primaryNodeId: 'r2' });
    await p.send([
      primary(clusterId, 'r2', 3, T0 + 40_000, `${NEW}:5000`),
      replica(clusterId, 'r3', 3, T0 + 40_000, 'r1', `${OLD}:5000`, false),
    ]);
    expect(await table.getNode(clusterId, 'r2')).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(await table.getNode(clusterId, 'r3')).toMatchObject({
      status: 'WRONG_SOURCE',
      statusReason: 'replicates from r1 (primary, FENCED), not from the recorded primary r2 (epoch 1)',
    });
    // r1 restarted as it was: a writable master with its stale data.
    p.at(T0 + 60_000);
    await p.send([primary(clusterId, 'r1', 4, T0 + 60_000, `${OLD}:5000`)]);
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({
      status: 'SPLIT_BRAIN',
      transitionFrom: 'FENCED',
      statusReason: 'reports itself a writable primary, but the recorded primary is r2 (epoch 1)',
    });

    // Writes of one batch go out in parallel: their order on the stream is not fixed.
    expect((await p.deliver()).sort()).toEqual([
      'r1:DEAD',
      'r1:FENCED',
      'r1:HEALTHY',
      'r1:SPLIT_BRAIN',
      'r2:HEALTHY',
      'r3:HEALTHY',
      'r3:WRONG_SOURCE',
    ]);
    const opened = await p.incidents();
    const byNode = (nodeId: string) => opened.find((i) => i.nodeId === nodeId);
    expect(byNode('r1')).toMatchObject({
      kind: 'SPLIT_BRAIN',
      severity: 'critical',
      state: 'OPEN',
      engine: 'redis',
    });
    expect(byNode('r3')).toMatchObject({ kind: 'WRONG_SOURCE', severity: 'major', state: 'OPEN' });
    // r1's failover first, then both new kinds handed to replica-recovery (r3's source r1 is FENCED, not
    // a down source whose failover would fix it).
    expect(p.started.map((s) => `${s.nodeId}:${s.kind}:${s.runbook}`)).toEqual([
      'r1:DEAD:primary-failover',
      'r3:WRONG_SOURCE:replica-recovery',
      'r1:SPLIT_BRAIN:replica-recovery',
    ]);
    const splitMessage = p.notifier.published.find((n) => n.content.title.includes('SPLIT_BRAIN'));
    expect(splitMessage?.content.nextSteps[1]).toContain('REPLICAOF the recorded primary');

    // Both are made replicas of r2 by hand (or by the runbook): the statuses end at once, incidents resolve.
    p.at(T0 + 70_000);
    await p.send([
      replica(clusterId, 'r1', 5, T0 + 70_000, 'r2', `${NEW}:5100`),
      replica(clusterId, 'r3', 4, T0 + 70_000, 'r2', `${NEW}:5100`),
      primary(clusterId, 'r2', 4, T0 + 70_000, `${NEW}:5100`),
    ]);
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({ role: 'replica', status: 'HEALTHY' });
    expect(await table.getNode(clusterId, 'r3')).toMatchObject({ status: 'HEALTHY' });
    expect((await p.deliver()).sort()).toEqual(['r1:HEALTHY', 'r3:HEALTHY']);
    const after = await p.incidents();
    expect(after.filter((i) => i.state === 'OPEN')).toEqual([]);
  });

  it('keeps a failover candidate unflagged while the run holds the lock, and sweeps a FENCED old primary SILENT, never DEAD', async () => {
    const clusterId = 'failover-window';
    const p = pipeline(clusterId);
    await p.meta({ epoch: 0 });
    await p.send([
      primary(clusterId, 'r1', 1, T0, `${OLD}:5000`),
      replica(clusterId, 'r2', 1, T0, 'r1', `${OLD}:5000`),
      replica(clusterId, 'r3', 1, T0, 'r1', `${OLD}:5000`),
    ]);
    // Mid-failover: the lock is held, r1 is FENCED at epoch 1, r2 was promoted, primaryNodeId not yet written.
    p.at(T0 + 40_000);
    await p.meta({ epoch: 1, primaryNodeId: 'r1', lockIncidentId: 'inc-1' });
    await p.fence('r1', 1);
    await p.send([
      primary(clusterId, 'r2', 2, T0 + 40_000, `${NEW}:5000`),
      // r1 comes back for a moment as primary: it is still the recorded one, so it stays FENCED.
      primary(clusterId, 'r1', 2, T0 + 40_000, `${OLD}:5000`),
    ]);
    expect(await table.getNode(clusterId, 'r2')).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({ status: 'FENCED', deadlineAt: T0 + 70_000 });
    // The run records r2, then r1 goes quiet again: r3 (repoint pending) says its link to r1 is down and a
    // probe cannot reach r1 — enough views to declare a primary DEAD, but r1 is no longer the primary.
    await p.meta({ epoch: 1, primaryNodeId: 'r2', lockIncidentId: 'inc-1' });
    p.at(T0 + 75_000);
    await p.send([
      replica(clusterId, 'r3', 2, T0 + 75_000, 'r1', `${OLD}:5000`, false),
      { ...primary(clusterId, 'r1', 1, T0 + 75_000, `${OLD}:5000`), observerId: 'probe-a', reachable: false },
    ]);
    expect(await table.getNode(clusterId, 'r3')).toMatchObject({
      status: 'HEALTHY',
      wrongSourceSince: T0 + 75_000,
    });
    await p.sweep();
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({
      status: 'SILENT',
      transitionFrom: 'FENCED',
      transitionTo: 'SILENT',
    });
    p.at(T0 + 90_000);
    await p.sweep();
    expect((await table.getNode(clusterId, 'r1'))?.status).toBe('SILENT');
  });

  it('raises DATA_LOSS for a primary restarted empty, names what was lost, and does not let it resolve by itself', async () => {
    const clusterId = 'restart-empty';
    const p = pipeline(clusterId);
    await p.meta({ epoch: 0 });
    await p.send([
      primary(clusterId, 'r1', 1, T0, `${OLD}:91000`),
      replica(clusterId, 'r2', 1, T0, 'r1', `${OLD}:91000`),
      replica(clusterId, 'r3', 1, T0, 'r1', `${OLD}:90500`),
    ]);
    // Killed and restarted at once without persistence: a new replication id, offset from 0.
    p.at(T0 + 2000);
    await p.send([primary(clusterId, 'r1', 2, T0 + 2000, `${NEW}:14`)]);
    const lost = await table.getNode(clusterId, 'r1');
    expect(lost).toMatchObject({ status: 'DATA_LOSS', dataLossAt: T0 + 2000 });
    expect(lost?.statusReason).toContain(`position ${NEW}:14 after ${OLD}:91000`);
    expect(lost?.statusReason).toContain(`r2 at ${OLD}:91000, r3 at ${OLD}:90500`);
    expect(lost?.statusReason).toContain('DATA_LOSS holds until an operator clears it');

    // The replicas resync to the empty data set; the primary keeps reporting: nothing clears DATA_LOSS.
    for (let i = 1; i <= 4; i++) {
      const at = T0 + 2000 + i * 10_000;
      p.at(at);
      await p.send([
        primary(clusterId, 'r1', 2 + i, at, `${NEW}:${14 + i * 100}`),
        replica(clusterId, 'r2', 1 + i, at, 'r1', `${NEW}:${14 + i * 100}`),
        replica(clusterId, 'r3', 1 + i, at, 'r1', `${NEW}:${14 + i * 100}`),
      ]);
    }
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({
      status: 'DATA_LOSS',
      statusSince: T0 + 2000,
    });
    expect((await p.deliver()).sort()).toEqual(['r1:DATA_LOSS', 'r1:HEALTHY', 'r2:HEALTHY', 'r3:HEALTHY']);
    const [incident] = await p.incidents();
    expect(incident).toMatchObject({ kind: 'DATA_LOSS', severity: 'critical', state: 'OPEN', nodeId: 'r1' });
    expect(incident?.runbook).toBeUndefined();
    expect(p.started).toEqual([]);
    const message = p.notifier.published[0];
    expect(message?.content.title).toBe(':fire: DATA_LOSS: restart-empty/r1 (primary) — incident opened');
    expect(message?.metadata.additionalContext.reason).toContain(`r2 at ${OLD}:91000`);

    // It stops reporting: SILENT like any primary; back, it is DATA_LOSS again; the incident never resolved.
    p.at(T0 + 90_000);
    await p.sweep();
    expect((await table.getNode(clusterId, 'r1'))?.status).toBe('SILENT');
    p.at(T0 + 95_000);
    await p.send([primary(clusterId, 'r1', 10, T0 + 95_000, `${NEW}:900`)]);
    expect((await table.getNode(clusterId, 'r1'))?.status).toBe('DATA_LOSS');
    // (The replicas, silent too, went SILENT with it.)
    expect((await p.deliver()).filter((t) => t.startsWith('r1:'))).toEqual(['r1:SILENT', 'r1:DATA_LOSS']);
    const [still] = await p.incidents();
    expect(still).toMatchObject({ state: 'OPEN', kind: 'DATA_LOSS' });
    expect(still?.timeline.map((e) => e.event)).toEqual(['opened', 'deescalated', 'escalated']);
  });

  it('keeps a primary restarted with its data (same key count, new replication id) HEALTHY; a smaller count is DATA_LOSS', async () => {
    const clusterId = 'restart-counted';
    const p = pipeline(clusterId);
    await p.meta({ epoch: 0 });
    const counted = (seq: number, at: number, position: string, datasetKeys: number): HeartbeatInput => ({
      ...primary(clusterId, 'r1', seq, at, position),
      datasetKeys,
    });
    await p.send([counted(1, T0, `${OLD}:91000`, 800)]);
    expect(await table.getNode(clusterId, 'r1')).toMatchObject({ status: 'HEALTHY', datasetKeys: 800 });
    // Killed and restarted from its append-only file: a new id at offset 0, every key still there.
    p.at(T0 + 2000);
    await p.send([counted(2, T0 + 2000, `${NEW}:0`, 800)]);
    const kept = await table.getNode(clusterId, 'r1');
    expect(kept).toMatchObject({ status: 'HEALTHY', position: `${NEW}:0`, datasetKeys: 800 });
    expect(kept?.dataLossReason).toBeUndefined();
    p.at(T0 + 3000);
    await p.send([counted(3, T0 + 3000, `${NEW}:350`, 803)]);
    // Killed again and back without its data: judged against the count stored with the node.
    p.at(T0 + 4000);
    await p.send([counted(4, T0 + 4000, `${'3'.repeat(40)}:0`, 0)]);
    const lost = await table.getNode(clusterId, 'r1');
    expect(lost).toMatchObject({ status: 'DATA_LOSS', datasetKeys: 0 });
    expect(lost?.dataLossReason).toContain(`after ${NEW}:350, 0 keys instead of 803, 803 keys lost`);
  });

  it('takes a replica naming no source for a symptom of the recorded primary, not of a SPLIT_BRAIN node', async () => {
    const clusterId = 'symptom-source';
    const p = pipeline(clusterId);
    await p.meta({ epoch: 1, primaryNodeId: 'r2' });
    const base = {
      clusterId,
      engine: 'redis' as const,
      statusSince: T0,
      seq: 3,
      lastHeartbeatAt: T0,
      lastProgressAt: T0,
      healthyStreak: 0,
      observers: { probe: { seq: 3, observedAt: T0, reachable: true } },
      deadlineAt: T0 + 30_000,
      sweepShard: 'SHARD#00',
      version: 1,
    };
    // Node items in key order r1, r2, r3: a "first primary" lookup would find the SPLIT_BRAIN r1.
    const nodes: NodeState[] = [
      {
        ...base,
        nodeId: 'r1',
        role: 'primary',
        status: 'SPLIT_BRAIN',
        statusReason: 'split',
        transitionTo: 'SPLIT_BRAIN',
      },
      { ...base, nodeId: 'r2', role: 'primary', status: 'DEAD', statusReason: 'dead', transitionTo: 'DEAD' },
      {
        ...base,
        nodeId: 'r3',
        role: 'replica',
        status: 'STALLED',
        statusReason: 'applied position has not advanced for 60s',
        linkUp: false,
        transitionTo: 'STALLED',
      },
    ];
    for (const n of nodes) expect(await table.store.putNode(n)).toBe('written');
    expect((await p.deliver()).sort()).toEqual(['r1:SPLIT_BRAIN', 'r2:DEAD', 'r3:STALLED']);
    const incidents = await p.incidents();
    expect(incidents.map((i) => `${i.nodeId}:${i.kind}`).sort()).toEqual(['r1:SPLIT_BRAIN', 'r2:DEAD']);
  });
});
