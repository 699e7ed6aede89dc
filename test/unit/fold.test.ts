import { describe, expect, it } from '@jest/globals';
import { type ClusterSnapshot, foldCluster, sourceHeadsFor } from '../../functions/core/fold';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import { type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';

const empty: ClusterSnapshot = {
  clusterId: 'orders-pg',
  policy: DEFAULT_POLICY,
  nodes: new Map(),
  sourceHeads: [],
  epoch: 0,
};
const ids = (inputs: HeartbeatInput[]) =>
  inputs.map((input, i) => ({ id: `r${i}`, heartbeat: parseHeartbeat(input) }));
const options = { now: T0 + 60_000, sweepShards: 16 };

describe('foldCluster', () => {
  it('produces one final state per node, whatever the number of heartbeats', () => {
    const inputs = Array.from({ length: 20 }, (_, i) =>
      replicaHeartbeat({ at: T0 + i, seq: i + 1, applied: lsn(i) }),
    );
    const result = foldCluster(empty, ids(inputs), options);
    expect([...result.changed.keys()]).toEqual(['pg-2']);
    expect(result.changed.get('pg-2')).toMatchObject({ seq: 20, appliedPosition: lsn(19), version: 1 });
    expect([...result.outcomes.values()].every((o) => o.kind === 'applied')).toBe(true);
  });

  it('applies a node’s heartbeats in sequence order whatever order they arrive in', () => {
    const inputs = [3, 1, 2].map((seq) =>
      replicaHeartbeat({ at: T0 + seq * 1000, seq, applied: lsn(seq * 10) }),
    );
    const result = foldCluster(empty, ids(inputs), options);
    expect(result.changed.get('pg-2')).toMatchObject({ seq: 3, appliedPosition: lsn(30) });
    expect([...result.outcomes.values()].map((o) => o.kind)).toEqual(['applied', 'applied', 'applied']);
  });

  it('compares replicas with the primary position from the same batch, even when the primary comes later', () => {
    const inputs = [
      replicaHeartbeat({ at: T0, seq: 1, applied: lsn(100) }),
      primaryHeartbeat({ at: T0, seq: 1, position: lsn(900) }),
    ];
    const result = foldCluster(empty, ids(inputs), options);
    expect(result.changed.get('pg-2')).toMatchObject({ lagUnits: 800, sourcePosition: lsn(900) });
  });

  it('reports duplicates as stale and counts the version once per batch', () => {
    const prev = foldCluster(empty, ids([primaryHeartbeat({ at: T0, seq: 1, position: lsn(1) })]), options);
    const snapshot: ClusterSnapshot = { ...empty, nodes: prev.changed };
    const inputs = [
      primaryHeartbeat({ at: T0, seq: 1, position: lsn(1) }),
      primaryHeartbeat({ at: T0 + 1, seq: 2, position: lsn(2) }),
      primaryHeartbeat({ at: T0 + 2, seq: 3, position: lsn(3) }),
    ];
    const result = foldCluster(snapshot, ids(inputs), options);
    expect(result.outcomes.get('r0')).toEqual({
      kind: 'stale',
      nodeId: 'pg-1',
      reason: 'seq 1 from observer pg-1 is not above 1',
    });
    expect(result.changed.get('pg-1')?.version).toBe(2);
  });

  it('leaves out nodes whose heartbeats were all stale', () => {
    const prev = foldCluster(empty, ids([primaryHeartbeat({ at: T0, seq: 5, position: lsn(1) })]), options);
    const result = foldCluster(
      { ...empty, nodes: prev.changed },
      ids([primaryHeartbeat({ at: T0, seq: 4, position: lsn(1) })]),
      options,
    );
    expect(result.changed.size).toBe(0);
  });

  it('uses change-stream heads from the snapshot', () => {
    const result = foldCluster(
      { ...empty, sourceHeads: [lsn(5000)] },
      ids([replicaHeartbeat({ at: T0, seq: 1, applied: lsn(1000) })]),
      options,
    );
    expect(result.changed.get('pg-2')).toMatchObject({ lagUnits: 4000, sourcePosition: lsn(5000) });
  });
});

describe('sourceHeadsFor', () => {
  const node = (nodeId: string, role: NodeState['role'], position: string, lastHeartbeatAt: number) =>
    ({ nodeId, role, position, lastHeartbeatAt }) as NodeState;
  const nodes = new Map([
    ['a', node('a', 'primary', lsn(10), T0)],
    ['b', node('b', 'primary', lsn(20), T0 + 1000)],
    ['c', node('c', 'replica', lsn(30), T0 + 2000)],
  ]);

  it.each([
    ['the named source node', 'a', [lsn(10), lsn(99)]],
    ['the most recently reporting primary when no source is named', undefined, [lsn(20), lsn(99)]],
    ['the most recently reporting primary when the named source is unknown', 'zz', [lsn(20), lsn(99)]],
    ['an intermediate replica (cascading replication)', 'c', [lsn(30), lsn(99)]],
  ])('takes %s', (_name, sourceNodeId, expected) => {
    expect(sourceHeadsFor(nodes, [lsn(99)], sourceNodeId)).toEqual(expected);
  });

  it('returns only stream heads when no primary is known', () => {
    expect(sourceHeadsFor(new Map(), [lsn(1)], undefined)).toEqual([lsn(1)]);
  });
});
