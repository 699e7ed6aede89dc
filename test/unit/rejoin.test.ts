import { describe, expect, it } from '@jest/globals';
import type { NodeState } from '../../functions/core/node-state';
import {
  type NodeRequestContext,
  nodeRequestContextOf,
  nodeRequestIncident,
  planRebuild,
  planRejoin,
  rejoinPrimary,
} from '../../functions/core/rejoin';
import { storedNode } from '../support/node-states';

/** The rules of an operator's rejoin and rebuild of a node (functions/core/rejoin.ts). */
const NOW = Date.parse('2026-12-04T10:00:00Z');

const nodes = (...list: NodeState[]) => new Map(list.map((n) => [n.nodeId, n]));
const context = (over: Partial<NodeRequestContext> = {}): NodeRequestContext => ({
  clusterId: 'cache',
  primaryNodeId: 'r1',
  nodes: nodes(
    storedNode('r1', 'primary', NOW),
    storedNode('r2', 'replica', NOW, { sourceNodeId: 'r1' }),
    storedNode('r3', 'replica', NOW, { sourceNodeId: 'r2' }),
  ),
  configured: new Set(['r1', 'r2', 'r3']),
  ...over,
});

describe('planRejoin', () => {
  it('demotes a node that reports itself primary, as a SPLIT_BRAIN', () => {
    const c = context({
      nodes: nodes(
        storedNode('r1', 'primary', NOW),
        storedNode('r2', 'primary', NOW, { status: 'SPLIT_BRAIN' }),
        storedNode('r3', 'replica', NOW, { sourceNodeId: 'r1' }),
      ),
    });
    expect(planRejoin(c, 'r2')).toEqual({
      kind: 'SPLIT_BRAIN',
      primary: 'r1',
      what: 'r2 reports itself primary (SPLIT_BRAIN): demote it under r1',
    });
  });

  it('repoints a replica following another node, or nothing, or the primary while unhealthy', () => {
    expect(planRejoin(context(), 'r3')).toMatchObject({
      kind: 'WRONG_SOURCE',
      what: 'r3 follows r2: repoint it to r1',
    });
    const lost = context({
      nodes: nodes(storedNode('r1', 'primary', NOW), storedNode('r2', 'replica', NOW)),
    });
    expect(planRejoin(lost, 'r2')).toMatchObject({
      kind: 'WRONG_SOURCE',
      what: 'r2 follows no source: repoint it to r1',
    });
    const stalled = context({
      nodes: nodes(
        storedNode('r1', 'primary', NOW),
        storedNode('r2', 'replica', NOW, { sourceNodeId: 'r1', status: 'STALLED' }),
      ),
    });
    expect(planRejoin(stalled, 'r2')).toMatchObject({ kind: 'WRONG_SOURCE', primary: 'r1' });
  });

  it('refuses the recorded primary, a healthy follower, an unknown node, a held lock, an unknown role', () => {
    expect(planRejoin(context(), 'r1')).toEqual({
      refused:
        'r1 is the recorded primary of cache: nothing to rejoin it under (to move the primary role, use switchover)',
      status: 409,
    });
    expect(planRejoin(context(), 'r2')).toEqual({
      refused: 'nothing to do: r2 already replicates from r1 and is HEALTHY',
      status: 409,
    });
    expect(planRejoin(context(), 'r9')).toEqual({
      refused: 'unknown node r9 in cluster cache (nodes: r1, r2, r3)',
      status: 404,
    });
    expect(planRejoin(context({ configured: new Set(['r1', 'r2', 'r3', 'r4']) }), 'r4')).toEqual({
      refused: 'r4 has never reported: there is nothing to judge it by yet',
      status: 409,
    });
    expect(planRejoin(context({ configured: new Set(['r1', 'r2']) }), 'r3')).toMatchObject({
      refused: expect.stringContaining('no endpoint configured for it'),
      status: 404,
    });
    expect(planRejoin(context({ lockIncidentId: 'inc-7', lockRunbook: 'primary-failover' }), 'r3')).toEqual({
      refused:
        'another run holds the cluster lock: incident inc-7 (primary-failover); wait for it to end, or unlock',
      status: 409,
    });
    const unknown = context({
      nodes: nodes(
        storedNode('r1', 'primary', NOW),
        storedNode('r2', 'unknown', NOW, { status: 'SILENT', statusReason: 'no report for 40s' }),
      ),
    });
    expect(planRejoin(unknown, 'r2')).toMatchObject({ refused: expect.stringMatching(/role is unknown/) });
  });

  it('before any recorded primary goes under the only other HEALTHY node reporting primary, else refuses', () => {
    const { primaryNodeId: _, ...unrecorded } = context();
    expect(rejoinPrimary(unrecorded, 'r3')).toBe('r1');
    expect(planRejoin(unrecorded, 'r3')).toMatchObject({ kind: 'WRONG_SOURCE', primary: 'r1' });
    // The only primary itself has nothing to go under.
    expect(planRejoin(unrecorded, 'r1')).toMatchObject({
      refused: expect.stringMatching(/no recorded primary and not exactly one other HEALTHY node/),
    });
    const two = {
      ...unrecorded,
      nodes: nodes(
        storedNode('r1', 'primary', NOW),
        storedNode('r2', 'primary', NOW),
        storedNode('r3', 'replica', NOW, { sourceNodeId: 'r2' }),
      ),
    };
    expect(planRejoin(two, 'r3')).toMatchObject({ status: 409 });
    // The split-brain node is not HEALTHY: the other primary is the one to go under.
    const split = {
      ...two,
      nodes: nodes(
        storedNode('r1', 'primary', NOW),
        storedNode('r2', 'primary', NOW, { status: 'SPLIT_BRAIN' }),
      ),
    };
    expect(planRejoin(split, 'r2')).toMatchObject({ kind: 'SPLIT_BRAIN', primary: 'r1' });
  });
});

describe('a primary that cannot be reached', () => {
  it.each(['DEAD', 'SILENT'] as const)('refuses to rejoin or rebuild under a %s primary', (status) => {
    const c = context({
      nodes: nodes(
        storedNode('r1', 'primary', NOW, { status }),
        storedNode('r2', 'primary', NOW, { status: 'SPLIT_BRAIN' }),
        storedNode('r3', 'replica', NOW, { sourceNodeId: 'r2' }),
      ),
      rebuildHook: { type: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:rebuild' },
    });
    for (const plan of [planRejoin(c, 'r2'), planRejoin(c, 'r3'), planRebuild(c, 'r3')])
      expect(plan).toEqual({
        refused: expect.stringContaining(`the primary r1 is ${status}`),
        status: 409,
      });
  });
});

describe('planRebuild', () => {
  const hook = { type: 'https', url: 'https://hooks.example.com/rebuild' } as const;

  it('runs the rebuild hook on any node but the primary, even a healthy follower', () => {
    expect(planRebuild(context({ rebuildHook: hook }), 'r2')).toEqual({
      kind: 'REBUILD',
      primary: 'r1',
      what: 'rebuild r2 with the https rebuild hook, then it must replicate from r1',
    });
  });

  it('refuses without a rebuild hook (a builtin one does not exist), for the primary, an unknown node, a held lock', () => {
    expect(planRebuild(context(), 'r2')).toEqual({
      refused:
        'cluster cache has no rebuild hook: configure hooks.rebuild (lambda, https or ssm; there is no built-in one)',
      status: 409,
    });
    expect(planRebuild(context({ rebuildHook: { type: 'builtin' } }), 'r2')).toMatchObject({ status: 409 });
    expect(planRebuild(context({ rebuildHook: hook }), 'r1')).toMatchObject({
      refused: expect.stringMatching(/recorded primary.*use switchover/),
    });
    expect(planRebuild(context({ rebuildHook: hook }), 'r9')).toMatchObject({ status: 404 });
    expect(planRebuild(context({ rebuildHook: hook, lockIncidentId: 'x' }), 'r2')).toMatchObject({
      refused: expect.stringMatching(/incident x/),
    });
  });
});

describe('nodeRequestContextOf and nodeRequestIncident', () => {
  it("leaves out the lock the run's own incident holds, and opens an incident recording who and why", () => {
    const cluster = {
      primaryNodeId: 'r1',
      lockIncidentId: 'rejoin-r3-x',
      lockRunbook: 'replica-recovery' as const,
      nodes: [
        { nodeId: 'r1', url: 'redis://127.0.0.1:1' },
        { nodeId: 'r3', url: 'redis://127.0.0.1:3' },
      ],
      hooks: {},
    };
    const all = context().nodes;
    expect(nodeRequestContextOf('cache', cluster, all, 'rejoin-r3-x').lockIncidentId).toBeUndefined();
    expect(nodeRequestContextOf('cache', cluster, all).lockIncidentId).toBe('rejoin-r3-x');

    const plan = planRejoin(context(), 'r3');
    if ('refused' in plan) throw new Error(plan.refused);
    const node = all.get('r3') as NodeState;
    const incident = nodeRequestIncident(
      'cache',
      node,
      plan,
      { by: 'local:erin', reason: 'moved racks' },
      NOW,
    );
    expect(incident).toMatchObject({
      incidentId: `rejoin-r3-${NOW.toString(36)}`,
      kind: 'WRONG_SOURCE',
      state: 'OPEN',
      runbook: 'replica-recovery',
      request: { by: 'local:erin', reason: 'moved racks' },
      timeline: [
        {
          event: 'opened',
          by: 'local:erin',
          reason: 'rejoin asked by local:erin: moved racks (r3 follows r2: repoint it to r1)',
        },
      ],
    });
  });
});
