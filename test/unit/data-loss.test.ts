import { describe, expect, it } from '@jest/globals';
import { describeDataLoss, positionRegression, replicasAhead } from '../../functions/core/data-loss';
import { applyHeartbeat, type DetectionContext } from '../../functions/core/detect';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import type { Engine } from '../../functions/core/position';
import { sweepNode } from '../../functions/core/silence';
import type { Topology } from '../../functions/core/topology';
import { type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { iso, T0 } from '../support/heartbeats';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

describe('positionRegression', () => {
  it.each<[string, Engine, string, string, object | undefined]>([
    ['Redis restarted empty: new id, offset reset', 'redis', `${OLD}:5000`, `${NEW}:0`, { newHistory: true }],
    ['Redis promoted: new id, offset kept counting', 'redis', `${OLD}:5000`, `${NEW}:5001`, undefined],
    [
      'Redis restarted from an older snapshot: same id, offset back',
      'redis',
      `${OLD}:5000`,
      `${OLD}:4200`,
      { newHistory: false, lost: 800 },
    ],
    ['Redis bare offsets going back', 'redis', '5000', '100', { newHistory: false, lost: 4900 }],
    ['Redis advancing', 'redis', `${OLD}:5000`, `${OLD}:5100`, undefined],
    [
      'PostgreSQL restored from a backup: LSN back',
      'postgresql',
      '0/3000',
      '0/1000',
      { newHistory: false, lost: 8192 },
    ],
    ['PostgreSQL advancing', 'postgresql', '0/1000', '0/3000', undefined],
    [
      'MySQL GTID set lost transactions',
      'mysql',
      'e0000000-0000-0000-0000-000000000001:1-10',
      'e0000000-0000-0000-0000-000000000001:1-7',
      { newHistory: false, lost: 3 },
    ],
    [
      'binlog coordinates are never judged (RESET MASTER)',
      'mysql',
      'bin.000009:500',
      'bin.000001:4',
      undefined,
    ],
    ['unparsable positions are never judged', 'redis', 'garbage', `${NEW}:0`, undefined],
  ])('%s', (_name, engine, previous, current, expected) => {
    const result = positionRegression(engine, previous, current);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toEqual({ previous, current, ...expected });
  });
});

describe('positionRegression across a new Redis history, with the data set counted', () => {
  it.each<[string, number | undefined, number | undefined, object | undefined]>([
    ['shrank (restarted without persistence)', 1200, 0, { keys: { previous: 1200, current: 0 } }],
    ['shrank by one key', 1200, 1199, { keys: { previous: 1200, current: 1199 } }],
    ['the same (restarted from its append-only file)', 1200, 1200, undefined],
    ['grew (written to since the last report)', 1200, 1250, undefined],
    ['empty before, empty after (nothing to lose)', 0, 0, undefined],
    ['no previous count: the reset decides', undefined, 1200, {}],
    ['no new count: the reset decides', 1200, undefined, {}],
  ])('%s', (_name, previousKeys, currentKeys, expected) => {
    const result = positionRegression('redis', `${OLD}:5000`, `${NEW}:0`, {
      previous: previousKeys,
      current: currentKeys,
    });
    if (expected === undefined) expect(result).toBeUndefined();
    else
      expect(result).toEqual({ previous: `${OLD}:5000`, current: `${NEW}:0`, newHistory: true, ...expected });
  });

  it('leaves the other cases to the positions: a promotion, a step back within one history', () => {
    const counts = { previous: 10, current: 0 };
    expect(positionRegression('redis', `${OLD}:5000`, `${NEW}:5001`, counts)).toBeUndefined();
    expect(positionRegression('redis', `${OLD}:5000`, `${OLD}:4200`, { previous: 10, current: 10 })).toEqual({
      previous: `${OLD}:5000`,
      current: `${OLD}:4200`,
      newHistory: false,
      lost: 800,
    });
  });
});

function replica(nodeId: string, applied: string, source: string | undefined = 'r1'): NodeState {
  return {
    clusterId: 'cache',
    nodeId,
    engine: 'redis',
    role: 'replica',
    status: 'HEALTHY',
    statusSince: T0,
    statusReason: 'replica is caught up with its source',
    seq: 5,
    lastHeartbeatAt: T0,
    lastProgressAt: T0,
    healthyStreak: 3,
    observers: {},
    deadlineAt: T0 + 30_000,
    sweepShard: 'SHARD#02',
    version: 3,
    appliedPosition: applied,
    sourceNodeId: source,
  };
}

describe('replicasAhead', () => {
  it('names the replicas of the primary still in the lost history or ahead of its new position', () => {
    const regression = positionRegression('redis', `${OLD}:5000`, `${NEW}:10`);
    if (!regression) throw new Error('expected a regression');
    const nodes = [
      replica('r3', `${OLD}:4000`),
      replica('r2', `${OLD}:5000`),
      replica('r4', `${NEW}:10`), // already resynced: holds nothing more
      replica('r5', `${OLD}:5000`, 'other'), // follows another node
      replica('r6', `${OLD}:5000`, undefined), // names no source: counts
    ];
    expect(replicasAhead('r1', 'redis', regression, nodes)).toEqual([
      `r2 at ${OLD}:5000`,
      `r3 at ${OLD}:4000`,
      `r6 at ${OLD}:5000`,
    ]);
  });

  it('within one history, names the replicas ahead of the new position', () => {
    const regression = positionRegression('postgresql', '0/3000', '0/1000');
    if (!regression) throw new Error('expected a regression');
    const nodes = [
      { ...replica('p2', '0/2000'), engine: 'postgresql' as const },
      { ...replica('p3', '0/1000'), engine: 'postgresql' as const },
    ];
    expect(replicasAhead('r1', 'postgresql', regression, nodes)).toEqual(['p2 at 0/2000']);
  });
});

describe('describeDataLoss', () => {
  it('names the positions, the bytes lost when measurable, the replicas ahead and what to do', () => {
    const sameHistory = positionRegression('redis', `${OLD}:5000`, `${OLD}:4200`);
    if (!sameHistory) throw new Error('expected a regression');
    const text = describeDataLoss('redis', sameHistory, [`r2 at ${OLD}:5000`]);
    expect(text).toContain(`${OLD}:4200 after ${OLD}:5000, 800 bytes of replication stream lost`);
    expect(text).toContain(
      `replicas that were ahead and still hold the lost data until they resync: r2 at ${OLD}:5000`,
    );
    expect(text).toContain('DATA_LOSS holds until an operator clears it');

    const reset = positionRegression('redis', `${OLD}:5000`, `${NEW}:0`);
    if (!reset) throw new Error('expected a regression');
    expect(describeDataLoss('redis', reset, [])).toContain(
      `new replication history: position ${NEW}:0 after ${OLD}:5000; everything of the previous history is missing on it`,
    );
    expect(describeDataLoss('redis', reset, [])).toContain('no replica was known to be ahead');
  });

  it('names the keys lost when both reports counted the data set', () => {
    const shrank = positionRegression('redis', `${OLD}:5000`, `${NEW}:14`, { previous: 1200, current: 3 });
    if (!shrank) throw new Error('expected a regression');
    const text = describeDataLoss('redis', shrank, [`r2 at ${OLD}:5000`]);
    expect(text).toContain(
      `new replication history and a smaller data set: position ${NEW}:14 after ${OLD}:5000, 3 keys instead of 1200, 1197 keys lost`,
    );
    expect(text).not.toContain('not measurable');
    expect(text).toContain('DATA_LOSS holds until an operator clears it');
  });
});

/** Detection of a restart-empty primary through applyHeartbeat. */
describe('a primary that comes back with a reset position', () => {
  const primary = (seq: number, at: number, position: string, observerId?: string): HeartbeatInput => ({
    v: 1,
    clusterId: 'cache',
    nodeId: 'r1',
    engine: 'redis',
    role: 'primary',
    seq,
    observedAt: iso(at),
    position,
    ...(observerId ? { observerId } : {}),
  });
  const replicas = [replica('r2', `${OLD}:5000`), replica('r3', `${OLD}:4990`)];
  const topo = (over: Partial<Topology> = {}): Topology => ({
    epoch: 0,
    nodes: new Map(replicas.map((n) => [n.nodeId, n])),
    ...over,
  });
  const ctx = (at: number, topology: Topology = topo()): DetectionContext => ({
    policy: DEFAULT_POLICY,
    now: at,
    sweepShards: 16,
    topology,
  });
  function series(reports: HeartbeatInput[], topology?: Topology): NodeState[] {
    const states: NodeState[] = [];
    let state: NodeState | undefined;
    for (const report of reports) {
      const hb = parseHeartbeat(report);
      const outcome = applyHeartbeat(state, hb, ctx(hb.observedAtMs, topology));
      if (outcome.kind !== 'applied') throw new Error(outcome.kind);
      state = outcome.state;
      states.push(state);
    }
    return states;
  }

  it('is DATA_LOSS at once, names what was lost, and stays DATA_LOSS however healthy its reports', () => {
    const states = series([
      primary(1, T0, `${OLD}:4000`),
      primary(2, T0 + 1000, `${OLD}:5000`),
      primary(3, T0 + 2000, `${NEW}:0`),
      primary(4, T0 + 3000, `${NEW}:100`),
      primary(5, T0 + 60_000, `${NEW}:900`),
    ]);
    expect(states.map((s) => s.status)).toEqual([
      'HEALTHY',
      'HEALTHY',
      'DATA_LOSS',
      'DATA_LOSS',
      'DATA_LOSS',
    ]);
    const lost = states[2] as NodeState;
    expect(lost.statusReason).toBe(lost.dataLossReason);
    expect(lost.dataLossAt).toBe(T0 + 2000);
    expect(lost.statusReason).toContain(`position ${NEW}:0 after ${OLD}:5000`);
    expect(lost.statusReason).toContain(`r2 at ${OLD}:5000, r3 at ${OLD}:4990`);
    expect(states[4]).toMatchObject({
      statusReason: lost.statusReason,
      dataLossAt: T0 + 2000,
      statusSince: T0 + 2000,
    });
  });

  /** A primary's report carrying its data set's key count. */
  const counted = (seq: number, at: number, position: string, datasetKeys: number): HeartbeatInput => ({
    ...primary(seq, at, position),
    datasetKeys,
  });

  it('counted: is DATA_LOSS when the data set shrank across the reset, naming the keys lost', () => {
    const states = series([
      counted(1, T0, `${OLD}:4000`, 1180),
      counted(2, T0 + 1000, `${OLD}:5000`, 1200),
      counted(3, T0 + 2000, `${NEW}:14`, 0),
      counted(4, T0 + 3000, `${NEW}:200`, 40),
    ]);
    expect(states.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY', 'DATA_LOSS', 'DATA_LOSS']);
    expect(states.map((s) => s.datasetKeys)).toEqual([1180, 1200, 0, 40]);
    expect(states[2]?.dataLossReason).toContain('0 keys instead of 1200, 1200 keys lost');
    expect(states[2]?.dataLossReason).toContain(`position ${NEW}:14 after ${OLD}:5000`);
    expect(states[2]?.dataLossReason).toContain(`r2 at ${OLD}:5000, r3 at ${OLD}:4990`);
  });

  it('counted: a restart that kept its data (same or more keys) is no DATA_LOSS, and its position the new baseline', () => {
    for (const after of [1200, 1260]) {
      const states = series([
        counted(1, T0, `${OLD}:5000`, 1200),
        counted(2, T0 + 2000, `${NEW}:0`, after),
        counted(3, T0 + 3000, `${NEW}:300`, after),
      ]);
      expect(states.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY', 'HEALTHY']);
      expect(states[1]).toMatchObject({ position: `${NEW}:0`, datasetKeys: after });
      expect(states[1]?.dataLossReason).toBeUndefined();
    }
    // The new baseline: a later empty restart is judged against the new history and the count after it.
    const again = series([
      counted(1, T0, `${OLD}:5000`, 1200),
      counted(2, T0 + 2000, `${NEW}:900`, 1200),
      counted(3, T0 + 4000, `${'c'.repeat(40)}:0`, 0),
    ]);
    expect(again.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY', 'DATA_LOSS']);
    expect(again[2]?.dataLossReason).toContain(`after ${NEW}:900, 0 keys instead of 1200`);
  });

  it('counted: keeps the last count through reports without one, and judges by the positions when a count is missing', () => {
    // A report without a count (a third-party probe, a count that could not be read) keeps the last one.
    const kept = series([
      counted(1, T0, `${OLD}:5000`, 1200),
      primary(2, T0 + 1000, `${OLD}:5100`),
      counted(3, T0 + 2000, `${NEW}:0`, 1200),
    ]);
    expect(kept.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY', 'HEALTHY']);
    expect(kept[1]?.datasetKeys).toBe(1200);
    // Either count missing: the reset alone decides, as before counts existed.
    const noNew = series([counted(1, T0, `${OLD}:5000`, 1200), primary(2, T0 + 2000, `${NEW}:0`)]);
    expect(noNew.map((s) => s.status)).toEqual(['HEALTHY', 'DATA_LOSS']);
    expect(noNew[1]?.dataLossReason).toContain('everything of the previous history is missing');
    const noOld = series([primary(1, T0, `${OLD}:5000`), counted(2, T0 + 2000, `${NEW}:0`, 1200)]);
    expect(noOld.map((s) => s.status)).toEqual(['HEALTHY', 'DATA_LOSS']);
  });

  it('counted: a count from its time as a replica is not kept', () => {
    const asReplica = { ...replica('r1', `${OLD}:5000`), datasetKeys: 5 };
    const outcome = applyHeartbeat(
      asReplica,
      parseHeartbeat(primary(9, T0 + 1000, `${OLD}:5001`)),
      ctx(T0 + 1000),
    );
    expect(outcome.kind === 'applied' && outcome.state.datasetKeys).toBeUndefined();
  });

  it('is swept SILENT, then DEAD by quorum, like any primary, and is DATA_LOSS again when it reports', () => {
    const [, , lost] = series([
      primary(1, T0, `${OLD}:4000`),
      primary(2, T0 + 1000, `${OLD}:5000`),
      primary(3, T0 + 2000, `${NEW}:0`),
    ]);
    if (!lost) throw new Error('no state');
    const silent = sweepNode(lost, [lost], DEFAULT_POLICY, T0 + 40_000);
    expect(silent?.status).toBe('SILENT');
    const down = (id: string): NodeState => ({
      ...replica(id, `${NEW}:0`),
      lastHeartbeatAt: T0 + 45_000,
      observers: {
        [id]: { seq: 9, observedAt: T0 + 45_000, reachable: true, linkUp: false, sourceNodeId: 'r1' },
      },
    });
    const dead = sweepNode(
      silent as NodeState,
      [silent as NodeState, down('r2'), down('r3')],
      DEFAULT_POLICY,
      T0 + 50_000,
    );
    expect(dead?.status).toBe('DEAD');
    const back = applyHeartbeat(dead, parseHeartbeat(primary(4, T0 + 90_000, `${NEW}:50`)), ctx(T0 + 90_000));
    expect(back.kind === 'applied' && back.state.status).toBe('DATA_LOSS');
  });

  it('judges a regression within one history only against the same observer (clocks of two observers differ)', () => {
    const twoObservers = series([
      primary(1, T0, `${OLD}:5000`, 'probe-a'),
      primary(1, T0 + 1000, `${OLD}:4990`, 'probe-b'),
    ]);
    expect(twoObservers.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY']);
    const sameObserver = series([
      primary(1, T0, `${OLD}:5000`, 'probe-a'),
      primary(2, T0 + 1000, `${OLD}:4990`, 'probe-a'),
    ]);
    expect(sameObserver.map((s) => s.status)).toEqual(['HEALTHY', 'DATA_LOSS']);
    // Observers taking turns: each one's step back is judged against its own earlier report.
    const alternating = series([
      primary(1, T0, `${OLD}:5000`, 'probe-a'),
      primary(1, T0 + 1000, `${OLD}:5001`, 'probe-b'),
      primary(2, T0 + 2000, `${OLD}:4200`, 'probe-a'),
    ]);
    expect(alternating.map((s) => s.status)).toEqual(['HEALTHY', 'HEALTHY', 'DATA_LOSS']);
    expect(alternating[2]?.statusReason).toContain(
      `${OLD}:4200 after ${OLD}:5000, 800 bytes of replication stream lost`,
    );
    // A reset into a new history needs no such care.
    const reset = series([
      primary(1, T0, `${OLD}:5000`, 'probe-a'),
      primary(1, T0 + 1000, `${NEW}:3`, 'probe-b'),
    ]);
    expect(reset.map((s) => s.status)).toEqual(['HEALTHY', 'DATA_LOSS']);
  });

  it('is not judged on a node that was a replica before (a promotion), nor on one that is not the recorded primary', () => {
    const promoted = replica('r1', `${OLD}:5000`);
    const outcome = applyHeartbeat(
      promoted,
      parseHeartbeat(primary(9, T0 + 1000, `${NEW}:0`)),
      ctx(T0 + 1000),
    );
    expect(outcome.kind === 'applied' && outcome.state.status).toBe('HEALTHY');

    const r9: NodeState = { ...replica('r9', `${NEW}:0`), role: 'primary', position: `${NEW}:0` };
    const states = series([primary(1, T0, `${OLD}:5000`), primary(2, T0 + 1000, `${NEW}:0`)], {
      nodes: new Map([...replicas, r9].map((n) => [n.nodeId, n])),
      primaryNodeId: 'r9',
      epoch: 2,
    });
    // The recorded primary is r9: r1 is a split brain, which is what is acted on; no data-loss record.
    expect(states[1]).toMatchObject({ status: 'SPLIT_BRAIN' });
    expect(states[1]?.dataLossReason).toBeUndefined();
  });
});
