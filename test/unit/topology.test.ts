import { describe, expect, it } from '@jest/globals';
import { applyHeartbeat, type DetectionContext } from '../../functions/core/detect';
import { type ClusterSnapshot, foldCluster } from '../../functions/core/fold';
import type { NodeState, NodeStatus } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import {
  failoverInProgress,
  judgeSource,
  splitBrainReason,
  type Topology,
} from '../../functions/core/topology';
import { type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { iso, T0 } from '../support/heartbeats';
import { storedNode } from '../support/node-states';

const REPLID = 'a'.repeat(40);
const NOW = T0 + 600_000;

/** A stored Redis node of cluster cache: reported at NOW - 2 s unless told otherwise. */
function node(
  nodeId: string,
  role: NodeState['role'],
  status: NodeStatus = 'HEALTHY',
  over: Partial<NodeState> = {},
): NodeState {
  return storedNode(nodeId, role, NOW, {
    status,
    statusReason: `${status} for the test`,
    ...(role === 'primary' ? { position: `${REPLID}:5000` } : { appliedPosition: `${REPLID}:5000` }),
    ...over,
  });
}

function topology(nodes: NodeState[], over: Partial<Omit<Topology, 'nodes'>> = {}): Topology {
  return { epoch: 1, nodes: new Map(nodes.map((n) => [n.nodeId, n])), ...over };
}

function primaryReport(nodeId: string, seq = 11, at = NOW): HeartbeatInput {
  return {
    v: 1,
    clusterId: 'cache',
    nodeId,
    engine: 'redis',
    role: 'primary',
    seq,
    observedAt: iso(at),
    position: `${REPLID}:6000`,
  };
}

function replicaReport(nodeId: string, source: string | undefined, seq = 11, at = NOW): HeartbeatInput {
  return {
    v: 1,
    clusterId: 'cache',
    nodeId,
    engine: 'redis',
    role: 'replica',
    seq,
    observedAt: iso(at),
    replication: {
      sourceNodeId: source,
      linkUp: true,
      appliedPosition: `${REPLID}:6000`,
    },
  };
}

const ctx = (topo: Topology, now = NOW): DetectionContext => ({
  policy: DEFAULT_POLICY,
  now,
  sweepShards: 16,
  sourceHeads: [`${REPLID}:6000`],
  topology: topo,
});

/** The state after one report of `prev`'s node in the cluster `topo`. */
function judge(prev: NodeState | undefined, report: HeartbeatInput, topo: Topology, now = NOW): NodeState {
  const outcome = applyHeartbeat(prev, parseHeartbeat(report), ctx(topo, now));
  if (outcome.kind !== 'applied') throw new Error(`expected applied, got ${outcome.kind}`);
  return outcome.state;
}

describe('split brain: a node other than the recorded primary reports itself a writable primary', () => {
  it('marks the returning old primary SPLIT_BRAIN at once, FENCED or not, naming the recorded primary and epoch', () => {
    for (const status of ['FENCED', 'HEALTHY', 'SILENT'] as const) {
      const old = node('r1', 'primary', status);
      const topo = topology([old, node('r2', 'primary'), node('r3', 'replica')], {
        primaryNodeId: 'r2',
        epoch: 4,
      });
      const state = judge(old, primaryReport('r1'), topo);
      expect(state.status).toBe('SPLIT_BRAIN');
      expect(state.statusReason).toBe(
        'reports itself a writable primary, but the recorded primary is r2 (epoch 4)',
      );
    }
  });

  it('never marks the recorded primary SPLIT_BRAIN, and ends a SPLIT_BRAIN once the node is the recorded primary', () => {
    const topo = topology([node('r1', 'primary'), node('r2', 'primary')], { primaryNodeId: 'r2' });
    expect(judge(node('r2', 'primary'), primaryReport('r2'), topo).status).toBe('HEALTHY');
    const flagged = node('r2', 'primary', 'SPLIT_BRAIN');
    expect(judge(flagged, primaryReport('r2'), topo)).toMatchObject({
      status: 'HEALTHY',
      statusReason: 'primary is reporting',
    });
  });

  it('does not flag the candidate of a failover in progress (lock held, recorded primary DEAD or FENCED)', () => {
    for (const oldStatus of ['DEAD', 'FENCED'] as const) {
      const candidate = node('r2', 'replica');
      const topo = topology([node('r1', 'primary', oldStatus), candidate], {
        primaryNodeId: 'r1',
        lockIncidentId: 'inc-1',
      });
      expect(failoverInProgress(topo)).toBe(true);
      expect(judge(candidate, primaryReport('r2'), topo).status).toBe('HEALTHY');
    }
  });

  it('flags a second primary when no failover is in progress: no lock, or the recorded primary alive', () => {
    const candidate = node('r2', 'replica');
    const noLock = topology([node('r1', 'primary', 'DEAD'), candidate], { primaryNodeId: 'r1' });
    expect(judge(candidate, primaryReport('r2'), noLock).status).toBe('SPLIT_BRAIN');
    const alive = topology([node('r1', 'primary'), candidate], {
      primaryNodeId: 'r1',
      lockIncidentId: 'inc-2',
    });
    expect(failoverInProgress(alive)).toBe(false);
    expect(judge(candidate, primaryReport('r2'), alive).status).toBe('SPLIT_BRAIN');
  });

  describe('with no recorded primary (before the first failover)', () => {
    it('flags the node that became primary last while another live primary reports, and keeps it flagged', () => {
      const r1 = node('r1', 'primary');
      const r2 = node('r2', 'replica');
      const topo = topology([r1, r2]);
      const flagged = judge(r2, primaryReport('r2'), topo);
      expect(flagged.status).toBe('SPLIT_BRAIN');
      expect(flagged.statusReason).toBe(
        'reports itself a writable primary, but no primary recorded yet (epoch 1); r1 was primary before it',
      );
      // The next report: it was primary already, and still is SPLIT_BRAIN.
      const again = judge(flagged, primaryReport('r2', 12, NOW + 1000), topology([r1, flagged]), NOW + 1000);
      expect(again.status).toBe('SPLIT_BRAIN');
      // The node that was primary all along is not.
      expect(judge(r1, primaryReport('r1'), topology([r1, flagged])).status).toBe('HEALTHY');
    });

    it('does not flag a new primary when the other one is DEAD, FENCED or no longer reporting', () => {
      const r2 = node('r2', 'replica');
      for (const other of [
        node('r1', 'primary', 'DEAD'),
        node('r1', 'primary', 'FENCED'),
        node('r1', 'primary', 'HEALTHY', { lastHeartbeatAt: NOW - 31_000 }),
      ]) {
        expect(splitBrainReason('r2', r2, topology([other, r2]), NOW, DEFAULT_POLICY)).toBeUndefined();
      }
    });

    it('flags an old primary that was FENCED and reports primary again while the promoted one reports', () => {
      const old = node('r1', 'primary', 'FENCED');
      const topo = topology([old, node('r2', 'primary')]);
      expect(judge(old, primaryReport('r1'), topo).status).toBe('SPLIT_BRAIN');
    });
  });

  it('does not change a node in maintenance', () => {
    const muted = node('r1', 'primary', 'MAINTENANCE', { maintenanceUntil: NOW + 60_000 });
    const topo = topology([muted, node('r2', 'primary')], { primaryNodeId: 'r2' });
    expect(judge(muted, primaryReport('r1'), topo).status).toBe('MAINTENANCE');
  });
});

describe('FENCED and SPLIT_BRAIN end when the node follows the recorded primary', () => {
  const r2 = node('r2', 'primary');
  const r3 = node('r3', 'replica');

  it.each(['FENCED', 'SPLIT_BRAIN'] as const)(
    'a %s node reporting as a replica of the recorded primary (or of a replica) is judged as a replica at once',
    (status) => {
      const topo = topology([node('r1', 'primary', status), r2, r3], { primaryNodeId: 'r2' });
      for (const source of ['r2', 'r3']) {
        const state = judge(node('r1', 'primary', status), replicaReport('r1', source), topo);
        expect(state).toMatchObject({ status: 'HEALTHY', role: 'replica', sourceNodeId: source });
      }
    },
  );

  it.each(['FENCED', 'SPLIT_BRAIN'] as const)(
    'a %s node that reports no source, or a role it cannot tell, keeps its status',
    (status) => {
      const topo = topology([node('r1', 'primary', status), r2, r3], { primaryNodeId: 'r2' });
      expect(judge(node('r1', 'primary', status), replicaReport('r1', undefined), topo).status).toBe(status);
      expect(
        judge(node('r1', 'primary', status), { ...primaryReport('r1'), role: 'unknown' }, topo).status,
      ).toBe(status);
    },
  );

  it('keeps FENCED on the recorded primary that reports primary again while its failover runs', () => {
    const old = node('r1', 'primary', 'FENCED');
    const topo = topology([old, node('r2', 'replica')], { primaryNodeId: 'r1', lockIncidentId: 'inc-1' });
    expect(judge(old, primaryReport('r1'), topo).status).toBe('FENCED');
  });

  it('turns a FENCED node that follows a wrong source into WRONG_SOURCE', () => {
    const topo = topology([node('r1', 'primary', 'FENCED'), r2, node('r4', 'primary', 'SPLIT_BRAIN')], {
      primaryNodeId: 'r2',
    });
    const state = judge(node('r1', 'primary', 'FENCED'), replicaReport('r1', 'r4'), topo);
    expect(state.status).toBe('WRONG_SOURCE');
  });
});

describe('wrong source: a replica following a node that is neither the recorded primary nor a replica', () => {
  it('marks a replica still following the old primary WRONG_SOURCE, and ends it at once when repointed', () => {
    const old = node('r1', 'primary', 'FENCED');
    const topo = topology([old, node('r2', 'primary'), node('r3', 'replica')], {
      primaryNodeId: 'r2',
      epoch: 2,
    });
    const wrong = judge(node('r3', 'replica'), replicaReport('r3', 'r1'), topo);
    expect(wrong).toMatchObject({
      status: 'WRONG_SOURCE',
      statusReason: 'replicates from r1 (primary, FENCED), not from the recorded primary r2 (epoch 2)',
      wrongSourceSince: NOW,
    });
    const repointed = judge(wrong, replicaReport('r3', 'r2', 12, NOW + 1000), topo, NOW + 1000);
    expect(repointed.status).toBe('HEALTHY');
    expect(repointed.wrongSourceSince).toBeUndefined();
  });

  it('accepts cascading replication from a replica, and says nothing of a source it does not know', () => {
    const topo = topology([node('r2', 'primary'), node('r3', 'replica'), node('r4', 'replica')], {
      primaryNodeId: 'r2',
    });
    expect(judge(node('r4', 'replica'), replicaReport('r4', 'r3'), topo).status).toBe('HEALTHY');
    expect(judge(node('r4', 'replica'), replicaReport('r4', 'elsewhere'), topo).status).toBe('HEALTHY');
    expect(judge(node('r4', 'replica'), replicaReport('r4', undefined), topo).status).toBe('HEALTHY');
  });

  it('gives a failover that holds the lock stallAfterSeconds to repoint a replica of the old primary, then flags it', () => {
    // The runbook recorded r2 right after Promote; r3 still follows the FENCED r1 until Repoint moves it.
    const topo = topology([node('r1', 'primary', 'FENCED'), node('r2', 'primary'), node('r3', 'replica')], {
      primaryNodeId: 'r2',
      lockIncidentId: 'inc-1',
    });
    let state = judge(node('r3', 'replica'), replicaReport('r3', 'r1', 11, NOW), topo);
    expect(state).toMatchObject({ status: 'HEALTHY', wrongSourceSince: NOW });
    state = judge(state, replicaReport('r3', 'r1', 12, NOW + 59_000), topo, NOW + 59_000);
    expect(state).toMatchObject({ status: 'HEALTHY', wrongSourceSince: NOW });
    // The repoint did not happen in time (a failed run keeps the lock): no longer hidden.
    state = judge(state, replicaReport('r3', 'r1', 13, NOW + 60_000), topo, NOW + 60_000);
    expect(state).toMatchObject({ status: 'WRONG_SOURCE', wrongSourceSince: NOW });
  });

  it('gives no grace without the lock, or when the source is alive', () => {
    const noLock = topology([node('r1', 'primary', 'FENCED'), node('r2', 'primary')], {
      primaryNodeId: 'r2',
    });
    expect(judge(node('r3', 'replica'), replicaReport('r3', 'r1'), noLock).status).toBe('WRONG_SOURCE');
    const aliveSource = topology([node('r1', 'primary', 'SPLIT_BRAIN'), node('r2', 'primary')], {
      primaryNodeId: 'r2',
      lockIncidentId: 'inc-1',
    });
    expect(judge(node('r3', 'replica'), replicaReport('r3', 'r1'), aliveSource).status).toBe('WRONG_SOURCE');
  });

  it('takes the promoted candidate as a rightful source before it is recorded', () => {
    const midFailover = topology(
      [node('r1', 'primary', 'FENCED'), node('r2', 'primary'), node('r3', 'replica')],
      {
        primaryNodeId: 'r1',
        lockIncidentId: 'inc-1',
      },
    );
    expect(judgeSource('r3', 'r2', midFailover, NOW, NOW, DEFAULT_POLICY)).toEqual({ kind: 'rightful' });
    // The recorded primary that died is a rightful source: the failover repoints its replicas.
    expect(judgeSource('r3', 'r1', midFailover, NOW, NOW, DEFAULT_POLICY)).toEqual({ kind: 'rightful' });
  });

  it('with no recorded primary, flags only a replica following a SPLIT_BRAIN or FENCED node', () => {
    const topo = topology([
      node('r1', 'primary'),
      node('r2', 'primary', 'SPLIT_BRAIN'),
      node('r3', 'replica'),
    ]);
    expect(judge(node('r3', 'replica'), replicaReport('r3', 'r1'), topo).status).toBe('HEALTHY');
    expect(judge(node('r3', 'replica'), replicaReport('r3', 'r2'), topo)).toMatchObject({
      status: 'WRONG_SOURCE',
      statusReason: 'replicates from r2, which is SPLIT_BRAIN',
    });
  });

  it('takes precedence over a stall (it is its cause)', () => {
    const topo = topology([node('r1', 'primary', 'DEAD'), node('r2', 'primary')], { primaryNodeId: 'r2' });
    const stalled = node('r3', 'replica', 'STALLED');
    expect(judge(stalled, replicaReport('r3', 'r1'), topo).status).toBe('WRONG_SOURCE');
  });
});

describe('the fold reads the recorded topology from the snapshot', () => {
  it('flags the returning old primary and its stale replica in one batch, and leaves the recorded primary alone', () => {
    const snapshot: ClusterSnapshot = {
      clusterId: 'cache',
      policy: DEFAULT_POLICY,
      nodes: new Map([
        ['r1', node('r1', 'primary', 'FENCED')],
        ['r2', node('r2', 'primary')],
        ['r3', node('r3', 'replica')],
      ]),
      sourceHeads: [],
      primaryNodeId: 'r2',
      epoch: 3,
    };
    const { changed } = foldCluster(
      snapshot,
      [
        { id: 'a', heartbeat: parseHeartbeat(replicaReport('r3', 'r1')) },
        { id: 'b', heartbeat: parseHeartbeat(primaryReport('r1')) },
        { id: 'c', heartbeat: parseHeartbeat(primaryReport('r2')) },
      ],
      { now: NOW, sweepShards: 16 },
    );
    expect(changed.get('r1')).toMatchObject({
      status: 'SPLIT_BRAIN',
      transitionFrom: 'FENCED',
      transitionTo: 'SPLIT_BRAIN',
    });
    expect(changed.get('r2')?.status).toBe('HEALTHY');
    expect(changed.get('r3')).toMatchObject({ status: 'WRONG_SOURCE', transitionTo: 'WRONG_SOURCE' });
  });
});
