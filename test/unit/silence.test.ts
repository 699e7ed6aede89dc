import { describe, expect, it } from '@jest/globals';
import type { NodeState, ObserverView } from '../../functions/core/node-state';
import { DEFAULT_POLICY, resolvePolicy } from '../../functions/core/policy';
import { judgePrimary, MIN_QUORUM, sweepNode } from '../../functions/core/silence';
import { NEVER } from '../../functions/core/silence-deadline';
import { T0 } from '../support/heartbeats';

const NOW = T0 + 60_000;

function node(nodeId: string, role: NodeState['role'], overrides: Partial<NodeState> = {}): NodeState {
  return {
    clusterId: 'orders-pg',
    nodeId,
    engine: 'postgresql',
    role,
    status: 'HEALTHY',
    statusSince: T0,
    statusReason: 'reporting',
    seq: 1,
    lastHeartbeatAt: T0,
    lastProgressAt: T0,
    healthyStreak: 3,
    observers: { [nodeId]: { seq: 1, observedAt: T0, reachable: true } },
    deadlineAt: T0 + 30_000,
    sweepShard: 'SHARD#01',
    version: 4,
    ...overrides,
  };
}

/** A replica that reported at `at` with its link to `source` up or down. */
function replica(nodeId: string, linkUp: boolean, at = NOW - 5000, source = 'pg-1'): NodeState {
  const self: ObserverView = { seq: 9, observedAt: at, reachable: true, linkUp, sourceNodeId: source };
  return node(nodeId, 'replica', {
    lastHeartbeatAt: at,
    deadlineAt: at + 30_000,
    observers: { [nodeId]: self },
  });
}

/** The primary, silent since T0, with probe views. */
function primary(probes: Record<string, { reachable: boolean; at?: number }> = {}): NodeState {
  const observers: Record<string, ObserverView> = { 'pg-1': { seq: 1, observedAt: T0, reachable: true } };
  for (const [id, view] of Object.entries(probes)) {
    observers[id] = { seq: 3, observedAt: view.at ?? NOW - 2000, reachable: view.reachable };
  }
  return node('pg-1', 'primary', { observers, position: '0/100' });
}

describe('the dead-primary quorum rule', () => {
  type Row = {
    views: number;
    replicas: [string, boolean][];
    probes: Record<string, { reachable: boolean }>;
    dead: boolean;
  };
  it.each<Row>([
    { views: 0, replicas: [], probes: {}, dead: false },
    { views: 1, replicas: [['pg-2', false]], probes: {}, dead: false },
    {
      views: 2,
      replicas: [
        ['pg-2', false],
        ['pg-3', false],
      ],
      probes: {},
      dead: true,
    },
    { views: 1, replicas: [], probes: { 'probe-a': { reachable: false } }, dead: false },
    { views: 2, replicas: [['pg-2', false]], probes: { 'probe-a': { reachable: false } }, dead: true },
    {
      views: 2,
      replicas: [],
      probes: { 'probe-a': { reachable: false }, 'probe-b': { reachable: false } },
      dead: true,
    },
  ] as const)(
    'a silent primary with $views confirming view(s) is dead: $dead',
    ({ replicas, probes, dead, views }) => {
      const p = primary(probes);
      const cluster = [p, ...replicas.map(([id, up]) => replica(id, up))];
      const verdict = judgePrimary(p, cluster, DEFAULT_POLICY, NOW);
      expect(verdict.confirmations).toHaveLength(views);
      expect(verdict.dead).toBe(dead);
    },
  );

  it('never lets one observer declare a primary dead, even with quorum set to 1', () => {
    const p = primary({ 'probe-a': { reachable: false } });
    const verdict = judgePrimary(p, [p], resolvePolicy({ quorum: 1 }), NOW);
    expect(verdict).toMatchObject({ dead: false, required: MIN_QUORUM });
  });

  it('honours a quorum above 2', () => {
    const p = primary();
    const cluster = [p, replica('pg-2', false), replica('pg-3', false)];
    expect(judgePrimary(p, cluster, resolvePolicy({ quorum: 3 }), NOW)).toMatchObject({
      dead: false,
      required: 3,
    });
    const four = [...cluster, replica('pg-4', false)];
    expect(judgePrimary(p, four, resolvePolicy({ quorum: 3 }), NOW).dead).toBe(true);
  });

  it('is not dead while it still reports, whatever the views', () => {
    const p = {
      ...primary({ 'probe-a': { reachable: false }, 'probe-b': { reachable: false } }),
      lastHeartbeatAt: NOW - 10_000,
    };
    expect(judgePrimary(p, [p], DEFAULT_POLICY, NOW)).toMatchObject({
      dead: false,
      reason: 'primary reported 10s ago',
    });
  });

  it('treats a partition between the primary and the monitor as not dead when a replica is still linked', () => {
    // Two probes cannot reach the primary (they sit on the wrong side of a partition), but a replica
    // reports its link to the primary up: the primary is alive.
    const p = primary({ 'probe-a': { reachable: false }, 'probe-b': { reachable: false } });
    const verdict = judgePrimary(p, [p, replica('pg-2', true)], DEFAULT_POLICY, NOW);
    expect(verdict.dead).toBe(false);
    expect(verdict.vetoes).toEqual(['replica pg-2: replication link to pg-1 is up']);
    expect(verdict.reason).toBe('no report for 60s, but replica pg-2: replication link to pg-1 is up');
  });

  it('does not count replicas that lost their link because they now follow another primary', () => {
    const p = primary();
    const cluster = [
      p,
      replica('pg-2', false, NOW - 5000, 'pg-9'),
      replica('pg-3', false, NOW - 5000, 'pg-9'),
    ];
    expect(judgePrimary(p, cluster, DEFAULT_POLICY, NOW).confirmations).toEqual([]);
  });

  it('does not count views older than the primary’s last report, or stale ones', () => {
    const p = primary({
      'probe-a': { reachable: false, at: T0 - 1000 },
      'probe-b': { reachable: false, at: NOW - 61_000 },
    });
    const cluster = [p, replica('pg-2', false, T0 - 1)];
    expect(judgePrimary(p, cluster, DEFAULT_POLICY, NOW).confirmations).toEqual([]);
  });

  it('counts a replica’s link as a probe that reached it reports it, when the replica does not report itself', () => {
    // One probe watches everything (`watch`, the probe Lambda): it cannot reach the primary, and reads on
    // the replica that its replication link is down. Two views: the probe's own, and the replica's relayed.
    const p = primary({ 'probe-a': { reachable: false } });
    const relayed: ObserverView = { seq: 9, observedAt: NOW - 1000, reachable: true, linkUp: false };
    const r = node('pg-2', 'replica', { lastHeartbeatAt: NOW - 1000, observers: { 'probe-a': relayed } });
    const verdict = judgePrimary(p, [p, r], DEFAULT_POLICY, NOW);
    expect(verdict.confirmations).toEqual([
      'observer probe-a: cannot reach pg-1',
      'replica pg-2: replication link down',
    ]);
    expect(verdict.dead).toBe(true);
  });

  it('does not count a replica whose link was already down before the primary fell silent', () => {
    // The replica's receiver died an hour ago (on its own); now the primary refuses the probe. One observer's
    // view and an old outage must not make a quorum: the primary may be alive.
    const p = primary({ 'probe-a': { reachable: false } });
    const old: ObserverView = {
      seq: 9,
      observedAt: NOW - 1000,
      reachable: true,
      linkUp: false,
      linkDownSince: T0 - 3_600_000,
    };
    const r = node('pg-2', 'replica', { lastHeartbeatAt: NOW - 1000, observers: { 'probe-a': old } });
    const verdict = judgePrimary(p, [p, r], DEFAULT_POLICY, NOW);
    expect(verdict.confirmations).toEqual(['observer probe-a: cannot reach pg-1']);
    expect(verdict.dead).toBe(false);
    // The same link, seen down only since the primary's last report (within one heartbeat interval), counts.
    for (const since of [T0 - DEFAULT_POLICY.heartbeatIntervalSeconds * 1000, T0 + 2000]) {
      const recent = node('pg-2', 'replica', {
        lastHeartbeatAt: NOW - 1000,
        observers: { 'probe-a': { ...old, linkDownSince: since } },
      });
      expect(judgePrimary(p, [p, recent], DEFAULT_POLICY, NOW).dead).toBe(true);
    }
    const justBefore = node('pg-2', 'replica', {
      lastHeartbeatAt: NOW - 1000,
      observers: {
        'probe-a': { ...old, linkDownSince: T0 - DEFAULT_POLICY.heartbeatIntervalSeconds * 1000 - 1 },
      },
    });
    expect(judgePrimary(p, [p, justBefore], DEFAULT_POLICY, NOW).dead).toBe(false);
  });

  it('takes the latest reachable view of a replica’s link, and counts the replica once however many relay it', () => {
    const p = primary();
    const views = (linkUp: boolean): Record<string, ObserverView> => ({
      'probe-a': { seq: 3, observedAt: NOW - 3000, reachable: true, linkUp: !linkUp, sourceNodeId: 'pg-1' },
      'probe-b': { seq: 4, observedAt: NOW - 1000, reachable: true, linkUp, sourceNodeId: 'pg-1' },
      'probe-c': { seq: 5, observedAt: NOW - 500, reachable: false },
    });
    const down = node('pg-2', 'replica', { observers: views(false) });
    expect(judgePrimary(p, [p, down], DEFAULT_POLICY, NOW).confirmations).toEqual([
      'replica pg-2: replication link down',
    ]);
    const up = node('pg-2', 'replica', { observers: views(true) });
    expect(judgePrimary(p, [p, up], DEFAULT_POLICY, NOW).vetoes).toEqual([
      'replica pg-2: replication link to pg-1 is up',
    ]);
  });

  it('counts each observer once and names every confirmation', () => {
    const p = primary({ 'probe-a': { reachable: false } });
    const verdict = judgePrimary(p, [p, replica('pg-2', false)], DEFAULT_POLICY, NOW);
    expect(verdict.confirmations).toEqual([
      'observer probe-a: cannot reach pg-1',
      'replica pg-2: replication link down',
    ]);
    expect(verdict.reason).toBe(
      'no report for 60s and 2/2 views confirm: observer probe-a: cannot reach pg-1; replica pg-2: replication link down',
    );
  });
});

describe('sweepNode', () => {
  it('leaves a node that is not overdue alone', () => {
    expect(
      sweepNode(node('pg-2', 'replica', { deadlineAt: NOW + 1 }), [], DEFAULT_POLICY, NOW),
    ).toBeUndefined();
  });

  it('marks an overdue replica SILENT once, with a transition, and takes it out of future sweeps', () => {
    const before = node('pg-2', 'replica');
    const after = sweepNode(before, [before], DEFAULT_POLICY, NOW);
    expect(after).toMatchObject({
      status: 'SILENT',
      statusSince: NOW,
      statusReason: 'no heartbeat for 60s (timeout 30s)',
      healthyStreak: 0,
      deadlineAt: NEVER,
      version: 5,
      transitionFrom: 'HEALTHY',
      transitionTo: 'SILENT',
    });
  });

  it('marks a silent primary SILENT and sweeps it again after one heartbeat interval until the quorum holds', () => {
    const p = primary();
    const first = sweepNode(p, [p, replica('pg-2', false)], DEFAULT_POLICY, NOW);
    expect(first).toMatchObject({ status: 'SILENT', deadlineAt: NOW + 10_000, transitionTo: 'SILENT' });
    expect(first?.statusReason).toBe('no report for 60s; 1/2 views confirm it is down');

    const again = sweepNode(first as NodeState, [p, replica('pg-2', false)], DEFAULT_POLICY, NOW + 10_000);
    expect(again).toMatchObject({ status: 'SILENT', statusSince: NOW, deadlineAt: NOW + 20_000 });
    expect(again?.transitionTo).toBeUndefined();

    const dead = sweepNode(
      again as NodeState,
      [p, replica('pg-2', false, NOW + 15_000), replica('pg-3', false, NOW + 15_000)],
      DEFAULT_POLICY,
      NOW + 20_000,
    );
    expect(dead).toMatchObject({
      status: 'DEAD',
      deadlineAt: NEVER,
      transitionFrom: 'SILENT',
      transitionTo: 'DEAD',
    });
  });

  it('puts a node in maintenance back in the sweep only when its window ends', () => {
    const muted = node('pg-2', 'replica', { status: 'MAINTENANCE', maintenanceUntil: NOW + 3_600_000 });
    expect(sweepNode(muted, [muted], DEFAULT_POLICY, NOW)).toMatchObject({
      status: 'MAINTENANCE',
      deadlineAt: NOW + 3_600_000,
    });
    const ended = { ...muted, deadlineAt: NOW + 3_600_000 };
    expect(sweepNode(ended, [ended], DEFAULT_POLICY, NOW + 3_600_000)).toMatchObject({
      status: 'SILENT',
      transitionFrom: 'MAINTENANCE',
    });
  });

  it.each(['RECOVERING', 'DEAD'] as const)('does not change a %s node, only stops sweeping it', (status) => {
    const n = node('pg-2', 'replica', { status });
    expect(sweepNode(n, [n], DEFAULT_POLICY, NOW)).toMatchObject({ status, deadlineAt: NEVER, version: 5 });
    expect(sweepNode({ ...n, deadlineAt: NEVER }, [n], DEFAULT_POLICY, NOW)).toBeUndefined();
  });
});

describe('sweepNode: FENCED, SPLIT_BRAIN, WRONG_SOURCE and DATA_LOSS nodes are swept for silence', () => {
  const quorumDown = () => [replica('pg-2', false), replica('pg-3', false)];

  it.each(['FENCED', 'SPLIT_BRAIN'] as const)(
    'a %s primary that stops reporting becomes SILENT like a replica, never DEAD, however many views confirm',
    (status) => {
      const p = { ...primary(), status };
      const after = sweepNode(p, [p, ...quorumDown()], DEFAULT_POLICY, NOW, 'pg-9');
      expect(after).toMatchObject({
        status: 'SILENT',
        deadlineAt: NEVER,
        transitionFrom: status,
        transitionTo: 'SILENT',
      });
    },
  );

  it('judges a FENCED node that is still the recorded primary by the quorum rule (its failover has not moved on)', () => {
    const p = { ...primary(), status: 'FENCED' as const };
    expect(sweepNode(p, [p, ...quorumDown()], DEFAULT_POLICY, NOW, 'pg-1')).toMatchObject({ status: 'DEAD' });
  });

  it.each(['WRONG_SOURCE', 'DATA_LOSS'] as const)(
    'a %s replica that stops reporting becomes SILENT',
    (status) => {
      const n = node('pg-2', 'replica', { status });
      expect(sweepNode(n, [n], DEFAULT_POLICY, NOW)).toMatchObject({
        status: 'SILENT',
        transitionFrom: status,
      });
    },
  );

  it('a DATA_LOSS primary is judged DEAD by the quorum rule, keeping its data-loss record', () => {
    const p = { ...primary(), status: 'DATA_LOSS' as const, dataLossReason: 'lost', dataLossAt: T0 };
    expect(sweepNode(p, [p, ...quorumDown()], DEFAULT_POLICY, NOW)).toMatchObject({
      status: 'DEAD',
      dataLossReason: 'lost',
      dataLossAt: T0,
    });
  });
});
