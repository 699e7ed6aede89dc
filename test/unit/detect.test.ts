import { describe, expect, it } from '@jest/globals';
import { applyHeartbeat, type DetectionContext } from '../../functions/core/detect';
import type { NodeState } from '../../functions/core/node-state';
import { sweepShardOf } from '../../functions/core/node-state';
import { OBSERVER_VIEW_RETENTION_MS } from '../../functions/core/observer-views';
import { DEFAULT_POLICY, type Policy, resolvePolicy } from '../../functions/core/policy';
import { type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { iso, lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';

const ctx = (overrides: Partial<DetectionContext> = {}): DetectionContext => ({
  policy: DEFAULT_POLICY,
  now: T0 + 3_600_000,
  sweepShards: 16,
  ...overrides,
});

/** Applies heartbeats one after the other, as the ingest handler does, and returns the last state. */
function run(inputs: HeartbeatInput[], context: (i: number) => Partial<DetectionContext> = () => ({})) {
  let state: NodeState | undefined;
  const outcomes: string[] = [];
  inputs.forEach((input, i) => {
    const outcome = applyHeartbeat(state, parseHeartbeat(input), ctx(context(i)));
    outcomes.push(outcome.kind);
    if (outcome.kind === 'applied') state = outcome.state;
  });
  return { state, outcomes };
}

/** A replica heartbeat every 10 s: applied positions given, the source head given per step. */
function replicaSeries(
  steps: { applied: number; head: number; lagSeconds?: number; paused?: boolean; linkUp?: boolean }[],
  policy: Policy = DEFAULT_POLICY,
) {
  let state: NodeState | undefined;
  const statuses: string[] = [];
  steps.forEach((step, i) => {
    const at = T0 + i * 10_000;
    const hb = replicaHeartbeat({ at, seq: i + 1, applied: lsn(step.applied) });
    if (hb.replication) {
      if (step.lagSeconds !== undefined) hb.replication.lagSeconds = step.lagSeconds;
      if (step.paused !== undefined) hb.replication.paused = step.paused;
      if (step.linkUp !== undefined) hb.replication.linkUp = step.linkUp;
    }
    const outcome = applyHeartbeat(state, parseHeartbeat(hb), {
      policy,
      now: at,
      sweepShards: 16,
      sourceHeads: [lsn(step.head)],
    });
    if (outcome.kind !== 'applied') throw new Error(`step ${i} was ${outcome.kind}`);
    state = outcome.state;
    statuses.push(state.status);
  });
  return { state: state as NodeState, statuses };
}

describe('replica rules', () => {
  it.each([
    {
      name: 'a replica keeping up with an advancing source stays HEALTHY',
      steps: [100, 200, 300, 400, 500, 600, 700, 800].map((p) => ({ applied: p, head: p + 50 })),
      expected: ['HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY'],
    },
    {
      name: 'an idle replica of an idle source is not a stall',
      steps: Array.from({ length: 10 }, () => ({ applied: 500, head: 500 })),
      expected: Array.from({ length: 10 }, () => 'HEALTHY'),
    },
    {
      name: 'a replica whose applied position does not move while the source advances is STALLED after 60 s',
      steps: [
        { applied: 100, head: 100 },
        { applied: 100, head: 200 },
        { applied: 100, head: 300 },
        { applied: 100, head: 400 },
        { applied: 100, head: 500 },
        { applied: 100, head: 600 },
        { applied: 100, head: 700 },
        { applied: 100, head: 800 },
      ],
      // Last progress at step 0 (caught up at t=0); stalled once 60 s have passed without progress (step 6).
      expected: ['HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'STALLED', 'STALLED'],
    },
    {
      name: 'a replica behind an idle source that applies nothing is STALLED (it has work it does not do)',
      steps: Array.from({ length: 8 }, () => ({ applied: 100, head: 900 })),
      expected: ['HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'STALLED', 'STALLED'],
    },
    {
      name: 'a replica that advances slowly but steadily is never STALLED',
      steps: Array.from({ length: 12 }, (_, i) => ({ applied: 100 + i, head: 10_000 + i * 1000 })),
      expected: Array.from({ length: 12 }, () => 'HEALTHY'),
    },
    {
      name: 'reported lag above maxLagSeconds makes an advancing replica LAGGING',
      steps: [
        { applied: 100, head: 200, lagSeconds: 5 },
        { applied: 150, head: 300, lagSeconds: 31 },
        { applied: 200, head: 400, lagSeconds: 45 },
      ],
      expected: ['HEALTHY', 'LAGGING', 'LAGGING'],
    },
    {
      name: 'lag exactly at maxLagSeconds is not LAGGING',
      steps: [{ applied: 100, head: 200, lagSeconds: 30 }],
      expected: ['HEALTHY'],
    },
    {
      name: 'a paused replay behind the source is still a stall (the runbook resumes it)',
      steps: Array.from({ length: 7 }, (_, i) => ({ applied: 100, head: 100 + i * 10, paused: i > 0 })),
      expected: ['HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'STALLED'],
    },
  ])('$name', ({ steps, expected }) => {
    expect(replicaSeries(steps).statuses).toEqual(expected);
  });

  it('says why a replica is STALLED, with the positions and the pause and link state', () => {
    const { state } = replicaSeries(
      Array.from({ length: 7 }, (_, i) => ({ applied: 16, head: 16 + i * 16, paused: true, linkUp: false })),
    );
    expect(state.statusReason).toBe(
      'applied position 0/10 has not advanced for 60s while the source is at 0/70 (replay is paused) (replication link down)',
    );
    expect(state).toMatchObject({ lagUnits: 96, sourcePosition: lsn(112), paused: true, linkUp: false });
  });

  it('judges LAGGING by position units when maxLagUnits is set', () => {
    const policy = resolvePolicy({ maxLagUnits: 1000 });
    expect(
      replicaSeries(
        [
          { applied: 100, head: 1100 },
          { applied: 200, head: 1201 },
          { applied: 300, head: 1300 },
        ],
        policy,
      ).statuses,
      // 1001 units behind is LAGGING; back to 1000 is good, but one good heartbeat is not a streak.
    ).toEqual(['HEALTHY', 'LAGGING', 'LAGGING']);
  });

  it('takes the stall window from the cluster policy', () => {
    const policy = resolvePolicy({ stallAfterSeconds: 20 });
    const steps = Array.from({ length: 4 }, (_, i) => ({ applied: 100, head: 100 + i * 100 }));
    expect(replicaSeries(steps, policy).statuses).toEqual(['HEALTHY', 'HEALTHY', 'STALLED', 'STALLED']);
  });

  it('uses the received position as a source head when no other is known', () => {
    let state: NodeState | undefined;
    for (let i = 0; i < 8; i++) {
      const at = T0 + i * 10_000;
      const outcome = applyHeartbeat(
        state,
        parseHeartbeat(replicaHeartbeat({ at, seq: i + 1, applied: lsn(100), received: lsn(100 + i * 10) })),
        ctx({ now: at }),
      );
      if (outcome.kind === 'applied') state = outcome.state;
    }
    expect(state).toMatchObject({ status: 'STALLED', lagUnits: 70, sourcePosition: lsn(170) });
  });

  it('treats a new Redis replication id after a promotion as a fresh baseline, not a regression or a stall', () => {
    const oldId = 'a'.repeat(40);
    const newId = 'b'.repeat(40);
    const redis = (at: number, seq: number, applied: string): HeartbeatInput => ({
      v: 1,
      clusterId: 'cache',
      nodeId: 'r2',
      engine: 'redis',
      role: 'replica',
      seq,
      observedAt: iso(at),
      replication: { sourceNodeId: 'r1', linkUp: true, appliedPosition: applied },
    });
    const { state, outcomes } = run(
      [
        redis(T0, 1, `${oldId}:5000`),
        redis(T0 + 50_000, 2, `${newId}:10`),
        redis(T0 + 100_000, 3, `${newId}:10`),
      ],
      (i) => ({ now: T0 + i * 50_000, sourceHeads: [i === 0 ? `${oldId}:5000` : `${newId}:10`] }),
    );
    expect(outcomes).toEqual(['applied', 'applied', 'applied']);
    expect(state).toMatchObject({
      status: 'HEALTHY',
      appliedPosition: `${newId}:10`,
      lastProgressAt: T0 + 100_000,
    });
  });

  it('compares replicas with a source head it cannot order (other format) as unknown, not as behind', () => {
    const hb = replicaHeartbeat({ at: T0, seq: 1, applied: lsn(100) });
    const outcome = applyHeartbeat(undefined, parseHeartbeat(hb), ctx({ now: T0, sourceHeads: ['12345'] }));
    expect(outcome).toMatchObject({ kind: 'applied', state: { status: 'HEALTHY', lagUnits: 0 } });
  });

  it('judges a replica that reports no applied position by its reported lag only', () => {
    const hb = replicaHeartbeat({ at: T0, seq: 1, applied: lsn(1) });
    hb.replication = { linkUp: true, lagSeconds: 90 };
    const outcome = applyHeartbeat(undefined, parseHeartbeat(hb), ctx({ now: T0 }));
    expect(outcome).toMatchObject({ kind: 'applied', state: { status: 'LAGGING', lagSeconds: 90 } });
  });
});

describe('hysteresis', () => {
  const stalledThenRecovering = (goodSteps: number, policy: Policy = DEFAULT_POLICY) => {
    const stall = Array.from({ length: 7 }, (_, i) => ({ applied: 100, head: 100 + i * 100 }));
    const good = Array.from({ length: goodSteps }, (_, i) => ({
      applied: 1000 + i * 100,
      head: 1000 + i * 100,
    }));
    return replicaSeries([...stall, ...good], policy);
  };

  it.each([
    [1, 'STALLED'],
    [2, 'STALLED'],
    [3, 'HEALTHY'],
    [4, 'HEALTHY'],
  ])('after %i good heartbeats a STALLED replica is %s (healthyStreak 3)', (good, status) => {
    expect(stalledThenRecovering(good).state.status).toBe(status);
  });

  it('restarts the streak when a bad heartbeat comes between good ones', () => {
    const steps = [
      ...Array.from({ length: 7 }, (_, i) => ({ applied: 100, head: 100 + i * 100 })),
      { applied: 1000, head: 1000 },
      { applied: 1100, head: 1100 },
      { applied: 1150, head: 1200, lagSeconds: 99 },
      { applied: 1300, head: 1300 },
      { applied: 1400, head: 1400 },
      { applied: 1500, head: 1500 },
    ];
    expect(replicaSeries(steps).statuses.slice(7)).toEqual([
      'STALLED',
      'STALLED',
      'LAGGING',
      'LAGGING',
      'LAGGING',
      'HEALTHY',
    ]);
  });

  it('goes from a bad status to another bad status at once', () => {
    const steps = [
      ...Array.from({ length: 7 }, (_, i) => ({ applied: 100, head: 100 + i * 100 })),
      { applied: 800, head: 900, lagSeconds: 45 },
    ];
    expect(replicaSeries(steps).statuses.slice(-2)).toEqual(['STALLED', 'LAGGING']);
  });

  it('keeps statusSince when the status does not change and moves it when it does', () => {
    const { state } = stalledThenRecovering(3);
    expect(state.statusSince).toBe(T0 + 9 * 10_000);
    const { state: stalled } = stalledThenRecovering(1);
    expect(stalled.statusSince).toBe(T0 + 6 * 10_000);
  });

  it('reports the recovery progress in the reason while the streak builds', () => {
    expect(stalledThenRecovering(2).state.statusReason).toBe(
      'replica is caught up with its source; 2/3 good heartbeats before HEALTHY',
    );
  });

  it('needs the streak to leave SILENT too', () => {
    const silent: NodeState = {
      ...(run([primaryHeartbeat({ at: T0, seq: 1, position: lsn(1) })]).state as NodeState),
      status: 'SILENT',
      healthyStreak: 0,
    };
    const statuses: string[] = [];
    let state = silent;
    for (let i = 2; i <= 4; i++) {
      const outcome = applyHeartbeat(
        state,
        parseHeartbeat(primaryHeartbeat({ at: T0 + i * 1000, seq: i, position: lsn(i) })),
        ctx(),
      );
      if (outcome.kind === 'applied') state = outcome.state;
      statuses.push(state.status);
    }
    expect(statuses).toEqual(['SILENT', 'SILENT', 'HEALTHY']);
  });
});

describe('statuses owned by runbooks and operators', () => {
  const base = run([replicaHeartbeat({ at: T0, seq: 1, applied: lsn(1) })]).state as NodeState;

  it.each(['RECOVERING', 'FENCED'] as const)('a heartbeat does not change %s', (status) => {
    const outcome = applyHeartbeat(
      { ...base, status },
      parseHeartbeat(replicaHeartbeat({ at: T0 + 1000, seq: 2, applied: lsn(2) })),
      ctx(),
    );
    expect(outcome).toMatchObject({ kind: 'applied', state: { status, appliedPosition: lsn(2), seq: 2 } });
  });

  it('keeps MAINTENANCE until its end time, then judges the node again', () => {
    const inMaintenance: NodeState = { ...base, status: 'MAINTENANCE', maintenanceUntil: T0 + 5000 };
    const during = applyHeartbeat(
      inMaintenance,
      parseHeartbeat(replicaHeartbeat({ at: T0 + 4000, seq: 2, applied: lsn(2) })),
      ctx(),
    );
    expect(during).toMatchObject({ state: { status: 'MAINTENANCE', maintenanceUntil: T0 + 5000 } });
    const after = applyHeartbeat(
      inMaintenance,
      parseHeartbeat(replicaHeartbeat({ at: T0 + 6000, seq: 2, applied: lsn(2) })),
      ctx(),
    );
    expect(after).toMatchObject({ state: { status: 'HEALTHY' } });
    expect(after.kind === 'applied' ? after.state.maintenanceUntil : 'not applied').toBeUndefined();
  });
});

describe('sequence, observers and time', () => {
  it.each([
    ['a duplicate', 5, 'stale'],
    ['an older heartbeat', 4, 'stale'],
    ['the next heartbeat', 6, 'applied'],
  ])('%s from the same observer is %s', (_name, seq, kind) => {
    const { state } = run([primaryHeartbeat({ at: T0, seq: 5, position: lsn(5) })]);
    const outcome = applyHeartbeat(
      state,
      parseHeartbeat(primaryHeartbeat({ at: T0 + 1, seq, position: lsn(9) })),
      ctx(),
    );
    expect(outcome.kind).toBe(kind);
  });

  it('explains a stale heartbeat', () => {
    const { state } = run([primaryHeartbeat({ at: T0, seq: 5, position: lsn(5) })]);
    const outcome = applyHeartbeat(
      state,
      parseHeartbeat(primaryHeartbeat({ at: T0, seq: 5, position: lsn(5) })),
      ctx(),
    );
    expect(outcome).toEqual({ kind: 'stale', reason: 'seq 5 from observer pg-1 is not above 5' });
  });

  it('keeps sequence numbers per observer: a probe with a low seq is not stale against the node', () => {
    const { state, outcomes } = run([
      primaryHeartbeat({ at: T0, seq: 900, position: lsn(5) }),
      primaryHeartbeat({ at: T0 + 1000, seq: 1, position: lsn(6), observerId: 'probe-a' }),
    ]);
    expect(outcomes).toEqual(['applied', 'applied']);
    expect(state).toMatchObject({ seq: 900, position: lsn(6) });
    expect(state?.observers).toEqual({
      // Each observer's view of a primary keeps the position it reported (data-loss.ts judges against it).
      'pg-1': { seq: 900, observedAt: T0, reachable: true, position: lsn(5) },
      'probe-a': { seq: 1, observedAt: T0 + 1000, reachable: true, position: lsn(6) },
    });
  });

  it('records an unreachable observation in the observer view only', () => {
    const { state } = run([
      primaryHeartbeat({ at: T0, seq: 1, position: lsn(5) }),
      primaryHeartbeat({
        at: T0 + 20_000,
        seq: 1,
        position: lsn(5),
        observerId: 'probe-a',
        reachable: false,
      }),
    ]);
    expect(state).toMatchObject({ lastHeartbeatAt: T0, deadlineAt: T0 + 30_000, status: 'HEALTHY' });
    expect(state?.observers['probe-a']).toEqual({ seq: 1, observedAt: T0 + 20_000, reachable: false });
  });

  it('creates an already overdue SILENT node when the first news of it is that it cannot be reached', () => {
    const { state } = run([
      primaryHeartbeat({ at: T0, seq: 3, position: lsn(5), observerId: 'probe-a', reachable: false }),
    ]);
    expect(state).toMatchObject({ status: 'SILENT', deadlineAt: T0, lastHeartbeatAt: 0, seq: -1 });
    expect(state?.statusReason).toBe('never reported; observer probe-a could not reach it');
  });

  it('does not let an older observation from another observer overwrite newer data', () => {
    const { state } = run([
      primaryHeartbeat({ at: T0 + 5000, seq: 10, position: lsn(50) }),
      primaryHeartbeat({ at: T0 + 1000, seq: 1, position: lsn(10), observerId: 'probe-a' }),
    ]);
    expect(state).toMatchObject({ position: lsn(50), lastHeartbeatAt: T0 + 5000 });
    expect(state?.observers['probe-a']?.seq).toBe(1);
  });

  it('clamps an observation time in the future to now', () => {
    const { state } = run([primaryHeartbeat({ at: T0 + 999_999_999, seq: 1, position: lsn(5) })], () => ({
      now: T0,
    }));
    expect(state).toMatchObject({ lastHeartbeatAt: T0, deadlineAt: T0 + 30_000 });
  });

  it('sets the deadline from the cluster heartbeat timeout', () => {
    const { state } = run([primaryHeartbeat({ at: T0, seq: 1, position: lsn(5) })], () => ({
      now: T0,
      policy: resolvePolicy({ heartbeatTimeoutSeconds: 12 }),
    }));
    expect(state?.deadlineAt).toBe(T0 + 12_000);
  });

  it('forgets observer views older than a day', () => {
    const { state } = run(
      [
        primaryHeartbeat({ at: T0, seq: 1, position: lsn(5), observerId: 'old-probe' }),
        primaryHeartbeat({ at: T0 + OBSERVER_VIEW_RETENTION_MS + 1, seq: 2, position: lsn(6) }),
      ],
      () => ({ now: T0 + 2 * OBSERVER_VIEW_RETENTION_MS }),
    );
    expect(Object.keys(state?.observers ?? {})).toEqual(['pg-1']);
  });

  it('rejects a heartbeat that changes the engine recorded for a node', () => {
    const { state } = run([primaryHeartbeat({ at: T0, seq: 1, position: lsn(5) })]);
    const outcome = applyHeartbeat(
      state,
      parseHeartbeat({ ...primaryHeartbeat({ at: T0 + 1, seq: 2, position: '77' }), engine: 'redis' }),
      ctx(),
    );
    expect(outcome).toEqual({
      kind: 'rejected',
      reason: "engine: 'redis' differs from 'postgresql' recorded for node orders-pg/pg-1",
    });
  });

  it('keeps the role when a heartbeat says unknown, and takes a new one when it says so', () => {
    const { state } = run([
      replicaHeartbeat({ at: T0, seq: 1, applied: lsn(5) }),
      { ...primaryHeartbeat({ at: T0 + 1000, seq: 2, position: lsn(6) }), nodeId: 'pg-2', role: 'unknown' },
    ]);
    expect(state?.role).toBe('replica');
    const { state: promoted } = run([
      replicaHeartbeat({ at: T0, seq: 1, applied: lsn(5) }),
      { ...primaryHeartbeat({ at: T0 + 1000, seq: 2, position: lsn(6) }), nodeId: 'pg-2' },
    ]);
    expect(promoted).toMatchObject({ role: 'primary', position: lsn(6), status: 'HEALTHY' });
  });

  it('places a node on a stable sweep shard', () => {
    const { state } = run([primaryHeartbeat({ at: T0, seq: 1, position: lsn(5) })]);
    expect(state?.sweepShard).toBe(sweepShardOf('orders-pg', 'pg-1', 16));
    expect(sweepShardOf('orders-pg', 'pg-1', 16)).toBe(sweepShardOf('orders-pg', 'pg-1', 16));
    const shards = new Set(Array.from({ length: 1000 }, (_, i) => sweepShardOf('c', `n${i}`, 16)));
    expect(shards.size).toBe(16);
  });
});

describe('since when a replica link is down (the dead-primary quorum uses it)', () => {
  const down = (at: number, seq: number, observerId?: string) =>
    replicaHeartbeat({
      at,
      seq,
      applied: lsn(100),
      ...(observerId ? { observerId } : {}),
      replication: { sourceNodeId: 'pg-1', linkUp: false, appliedPosition: lsn(100) },
    });
  const up = (at: number, seq: number, observerId?: string) =>
    replicaHeartbeat({ at, seq, applied: lsn(100), ...(observerId ? { observerId } : {}) });
  const apply = (inputs: HeartbeatInput[]) => {
    let state: NodeState | undefined;
    for (const input of inputs) {
      const outcome = applyHeartbeat(state, parseHeartbeat(input), ctx({ now: T0 + 60_000 }));
      if (outcome.kind === 'applied') state = outcome.state;
    }
    if (!state) throw new Error('nothing applied');
    return state;
  };

  it('keeps the first down view after an up one, and restarts after the link comes back', () => {
    const state = apply([up(T0, 1), down(T0 + 10_000, 2), down(T0 + 20_000, 3)]);
    expect(state.observers['pg-2']).toMatchObject({ linkUp: false, linkDownSince: T0 + 10_000 });
    const again = apply([up(T0, 1), down(T0 + 10_000, 2), up(T0 + 20_000, 3), down(T0 + 30_000, 4)]);
    expect(again.observers['pg-2']).toMatchObject({ linkUp: false, linkDownSince: T0 + 30_000 });
    expect(apply([up(T0, 1)]).observers['pg-2']?.linkDownSince).toBeUndefined();
  });

  it('restarts the count when the replica is repointed: its link to a new source is a new link', () => {
    const repointed = replicaHeartbeat({
      at: T0 + 20_000,
      seq: 3,
      applied: lsn(100),
      replication: { sourceNodeId: 'pg-3', linkUp: false, appliedPosition: lsn(100) },
    });
    const state = apply([down(T0, 1), down(T0 + 10_000, 2), repointed]);
    expect(state.observers['pg-2']).toMatchObject({
      linkUp: false,
      sourceNodeId: 'pg-3',
      linkDownSince: T0 + 20_000,
    });
  });

  it('lets a probe that starts relaying a down link inherit since when the replica itself saw it down', () => {
    const state = apply([down(T0, 1), down(T0 + 10_000, 2), down(T0 + 15_000, 7, 'probe-a')]);
    expect(state.observers['probe-a']).toMatchObject({ linkUp: false, linkDownSince: T0 });
  });
});
