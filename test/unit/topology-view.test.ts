import { describe, expect, it } from '@jest/globals';
import type { NodeState, NodeStatus } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import {
  buildTopologyView,
  type TopologyTreeNode,
  type TopologyViewInput,
} from '../../functions/core/topology-view';
import { T0 } from '../support/heartbeats';
import { storedNode } from '../support/node-states';

const REPLID = 'b'.repeat(40);
const NOW = T0 + 600_000;

/** A stored Redis node of cluster cache, reported 2 s ago; a replica follows `source` (if given). */
function node(
  nodeId: string,
  role: NodeState['role'],
  source?: string,
  over: Partial<NodeState> & { status?: NodeStatus } = {},
): NodeState {
  return storedNode(nodeId, role, NOW, {
    ...(role === 'primary' ? { position: `${REPLID}:5000` } : {}),
    ...(role === 'replica' ? { appliedPosition: `${REPLID}:5000`, linkUp: true } : {}),
    ...(source !== undefined ? { sourceNodeId: source } : {}),
    ...over,
  });
}

function view(nodes: NodeState[], over: Partial<Omit<TopologyViewInput, 'nodes'>> = {}) {
  return buildTopologyView({ nodes, epoch: 1, policy: DEFAULT_POLICY, now: NOW, ...over });
}

/** The tree as `id(kind)` strings with children in brackets: `r1[r2, r3[r4]]`. */
function shape(roots: readonly TopologyTreeNode[]): string {
  return roots
    .map((r) => {
      const label = r.mark ? `${r.nodeId}(${r.mark.kind})` : r.nodeId;
      return r.children.length > 0 ? `${label}[${shape(r.children)}]` : label;
    })
    .join(', ');
}

describe('buildTopologyView', () => {
  it('puts the recorded primary at the root and each replica under it, nothing marked', () => {
    const result = view([node('r1', 'primary'), node('r2', 'replica', 'r1'), node('r3', 'replica', 'r1')], {
      primaryNodeId: 'r1',
    });
    expect(shape(result.roots)).toBe('r1[r2, r3]');
    expect(result).toMatchObject({
      primaryNodeId: 'r1',
      recorded: true,
      splitBrain: [],
      orphans: [],
      detached: [],
    });
    expect(result.roots[0]?.children.map((c) => c.follows)).toEqual(['r1', 'r1']);
  });

  it('hangs a chained replica under the replica it follows, without a mark', () => {
    const result = view([node('r1', 'primary'), node('r2', 'replica', 'r1'), node('r3', 'replica', 'r2')], {
      primaryNodeId: 'r1',
    });
    expect(shape(result.roots)).toBe('r1[r2[r3]]');
    expect(result.orphans).toEqual([]);
  });

  it('marks a second writable primary as split brain, and a replica following it as an orphan', () => {
    const result = view(
      [
        node('r1', 'primary'),
        node('r2', 'replica', 'r1'),
        node('r3', 'primary', undefined, { status: 'SPLIT_BRAIN' }),
        node('r4', 'replica', 'r3'),
      ],
      { primaryNodeId: 'r1', epoch: 4 },
    );
    expect(shape(result.roots)).toBe('r1[r2], r3(split-brain)[r4(orphan)]');
    expect(result.splitBrain).toEqual(['r3']);
    expect(result.orphans).toEqual(['r4']);
    const [, rogue] = result.roots;
    expect(rogue?.mark).toEqual({
      kind: 'split-brain',
      loud: true,
      reason: 'a second writable primary: the recorded primary is r1 (epoch 4)',
    });
    expect(rogue?.children[0]?.mark?.reason).toBe(
      'follows r3 (SPLIT_BRAIN), not the primary: the recorded primary is r1 (epoch 4)',
    );
  });

  it('marks a replica following a node the cluster does not know as an orphan root', () => {
    const result = view(
      [node('r1', 'primary'), node('r2', 'replica', 'r1'), node('r3', 'replica', 'ghost')],
      {
        primaryNodeId: 'r1',
      },
    );
    expect(shape(result.roots)).toBe('r1[r2], r3(orphan)');
    expect(result.roots[1]).toMatchObject({
      follows: 'ghost',
      mark: { kind: 'orphan', loud: true, reason: 'follows ghost, a node this cluster does not know' },
    });
  });

  it('marks a replica naming no source, a node of unknown role and a DEAD old primary as detached', () => {
    const result = view(
      [
        node('r1', 'primary'),
        node('r2', 'replica'),
        node('r3', 'unknown'),
        node('r0', 'primary', undefined, { status: 'DEAD' }),
        node('r4', 'replica', 'r0'),
      ],
      { primaryNodeId: 'r1', epoch: 2 },
    );
    expect(shape(result.roots)).toBe('r1, r0(detached)[r4(orphan)], r2(detached), r3(detached)');
    expect(result.detached).toEqual(['r0', 'r2', 'r3']);
    expect(result.roots[1]?.mark?.reason).toBe(
      'follows nothing: reports primary but is DEAD; the recorded primary is r1 (epoch 2)',
    );
    expect(result.roots[2]?.mark?.reason).toBe('follows nothing: it reports no replication source');
  });

  it('breaks a replication cycle at its smallest id, marked as an orphan, the ring and its tail under it', () => {
    const result = view(
      [
        node('r1', 'primary'),
        node('r3', 'replica', 'r4'),
        node('r4', 'replica', 'r3'),
        node('r2', 'replica', 'r4'),
      ],
      { primaryNodeId: 'r1' },
    );
    expect(shape(result.roots)).toBe('r1, r3(orphan)[r4[r2]]');
    expect(result.roots[1]?.mark?.reason).toBe(
      'in a replication cycle (r3 → r4 → r3): none follows the primary',
    );
  });

  it('keeps a recorded primary that never reported at the root, with its replicas under it', () => {
    const result = view([node('r2', 'replica', 'r1')], { primaryNodeId: 'r1' });
    expect(shape(result.roots)).toBe('r1[r2]');
    expect(result.roots[0]?.node).toBeUndefined();
  });

  it('marks the recorded primary loudly when it reports itself a replica (a switchover made by hand)', () => {
    const result = view([node('r1', 'replica', 'r2'), node('r2', 'primary'), node('r3', 'replica', 'r2')], {
      primaryNodeId: 'r1',
    });
    expect(shape(result.roots)).toBe('r1(demoted), r2(split-brain)[r3(orphan)]');
    expect(result.roots[0]?.mark?.reason).toBe(
      'the recorded primary reports itself a replica (of r2): the record is stale',
    );
  });

  it('shows the candidate a failover in progress promoted as a quiet note, its replicas not orphans', () => {
    const result = view(
      [
        node('r1', 'primary', undefined, { status: 'DEAD' }),
        node('r2', 'primary'),
        node('r3', 'replica', 'r2'),
      ],
      { primaryNodeId: 'r1', lockIncidentId: 'inc-1' },
    );
    expect(shape(result.roots)).toBe('r1, r2(promoting)[r3]');
    expect(result.roots[1]?.mark).toEqual({
      kind: 'promoting',
      loud: false,
      reason: 'promoted by the failover in progress (inc-1), not yet recorded',
    });
    expect(result.splitBrain).toEqual([]);
  });

  it('before any failover takes the one undisputed primary as the root, not recorded', () => {
    const result = view([
      node('r1', 'primary'),
      node('r2', 'replica', 'r1'),
      node('r3', 'primary', undefined, { status: 'SPLIT_BRAIN' }),
    ]);
    expect(shape(result.roots)).toBe('r1[r2], r3(split-brain)');
    expect(result).toMatchObject({ primaryNodeId: 'r1', recorded: false });
    expect(result.roots[1]?.mark?.reason).toBe(
      'a second writable primary: r1 is the primary (none recorded yet)',
    );
  });

  it('with two undisputed primaries and none recorded, roots neither and marks both', () => {
    const result = view([node('r1', 'primary'), node('r2', 'primary'), node('r3', 'replica', 'r1')]);
    expect(result.primaryNodeId).toBeUndefined();
    expect(shape(result.roots)).toBe('r1(split-brain)[r3(orphan)], r2(split-brain)');
  });

  it('is empty for a cluster without nodes', () => {
    expect(view([])).toEqual({ recorded: false, roots: [], splitBrain: [], orphans: [], detached: [] });
    expect(shape(view([], { primaryNodeId: 'r1' }).roots)).toBe('r1');
  });

  it('gives every node but the root its data at risk, and the unit of its lag', () => {
    const result = view(
      [
        node('r1', 'primary', undefined, { position: `${REPLID}:9000` }),
        node('r2', 'replica', 'r1', { appliedPosition: `${REPLID}:8000`, lagUnits: 1000, lagSeconds: 3 }),
      ],
      { primaryNodeId: 'r1' },
    );
    const [root] = result.roots;
    expect(root?.dataAtRisk).toBeUndefined();
    expect(root?.children[0]).toMatchObject({
      lagUnit: 'bytes',
      dataAtRisk: { nodeId: 'r2', measurable: true, bytes: 1000, seconds: 3 },
    });
  });
});
