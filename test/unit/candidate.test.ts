import { describe, expect, it } from '@jest/globals';
import { chooseCandidate, type NodeFailoverConfig } from '../../functions/core/candidate';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY, resolvePolicy } from '../../functions/core/policy';
import { lsn, T0 } from '../support/heartbeats';

const NOW = T0 + 60_000;

function node(nodeId: string, overrides: Partial<NodeState> = {}): NodeState {
  return {
    clusterId: 'orders-pg',
    nodeId,
    engine: 'postgresql',
    role: 'replica',
    status: 'STALLED',
    statusSince: T0,
    statusReason: 'link down',
    seq: 9,
    lastHeartbeatAt: NOW - 5000,
    lastProgressAt: T0,
    healthyStreak: 0,
    observers: {},
    deadlineAt: NOW + 25_000,
    sweepShard: 'SHARD#00',
    version: 3,
    ...overrides,
  };
}

const dead = node('pg-1', { role: 'primary', status: 'DEAD', position: lsn(10_000), lastHeartbeatAt: T0 });
const choose = (
  nodes: NodeState[],
  config: Record<string, NodeFailoverConfig> = {},
  policy = DEFAULT_POLICY,
) => chooseCandidate([dead, ...nodes], 'pg-1', new Map(Object.entries(config)), policy, NOW);

describe('chooseCandidate', () => {
  it('promotes the most advanced replica and explains why the others were not chosen', () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(9000) }),
      node('pg-3', { appliedPosition: lsn(9900) }),
      node('pg-4', { appliedPosition: lsn(9500) }),
    ]);
    expect(choice).toEqual({
      candidate: 'pg-3',
      ranking: ['pg-3', 'pg-4', 'pg-2'],
      rejected: [
        { nodeId: 'pg-2', reason: `applied position ${lsn(9000)} is behind pg-3's ${lsn(9900)}` },
        { nodeId: 'pg-4', reason: `applied position ${lsn(9500)} is behind pg-3's ${lsn(9900)}` },
      ],
      reason: `promote pg-3: the most advanced eligible replica at ${lsn(9900)}`,
    });
  });

  it.each([
    [
      'priority decides between equally advanced replicas',
      { 'pg-2': { priority: 10 }, 'pg-3': { priority: 100 } },
      'pg-3',
    ],
    [
      'the higher priority wins even when listed first',
      { 'pg-2': { priority: 100 }, 'pg-3': { priority: 10 } },
      'pg-2',
    ],
    ['the node id breaks a complete tie', {}, 'pg-2'],
  ])('%s', (_name, config, expected) => {
    const choice = choose(
      [node('pg-3', { appliedPosition: lsn(9000) }), node('pg-2', { appliedPosition: lsn(9000) })],
      config,
    );
    expect(choice.candidate).toBe(expected);
  });

  it('prefers the most advanced replica over a higher priority', () => {
    const choice = choose(
      [node('pg-2', { appliedPosition: lsn(9000) }), node('pg-3', { appliedPosition: lsn(9001) })],
      { 'pg-2': { priority: 1000 } },
    );
    expect(choice.candidate).toBe('pg-3');
  });

  it.each<[string, Partial<NodeState>, Record<string, NodeFailoverConfig>, string]>([
    ['marked noPromote', { appliedPosition: lsn(9999) }, { 'pg-2': { noPromote: true } }, 'marked noPromote'],
    ['SILENT', { appliedPosition: lsn(9999), status: 'SILENT' }, {}, 'is SILENT'],
    ['in MAINTENANCE', { appliedPosition: lsn(9999), status: 'MAINTENANCE' }, {}, 'is MAINTENANCE'],
    ['FENCED', { appliedPosition: lsn(9999), status: 'FENCED' }, {}, 'is FENCED'],
    [
      'quiet for longer than the timeout',
      { appliedPosition: lsn(9999), lastHeartbeatAt: NOW - 31_000 },
      {},
      'last reported 31s ago',
    ],
    ['without an applied position', {}, {}, 'reports no applied position'],
    ['a primary itself', { role: 'primary', position: lsn(9999) }, {}, 'reports as a primary itself'],
  ])('never promotes a replica %s, and says so', (_name, overrides, config, reason) => {
    const choice = choose([node('pg-2', overrides)], config);
    expect(choice.candidate).toBeUndefined();
    expect(choice.rejected).toEqual([{ nodeId: 'pg-2', reason }]);
    expect(choice.reason).toBe(`no eligible replica: pg-2 ${reason}`);
  });

  it('never promotes a replica lagging beyond maxLagOnFailover, accepts one exactly at it, and honours an override', () => {
    const far = node('pg-1', {
      role: 'primary',
      status: 'DEAD',
      position: lsn(2_000_000),
      lastHeartbeatAt: T0,
    });
    const pick = (applied: number) =>
      chooseCandidate(
        [far, node('pg-2', { appliedPosition: lsn(applied) })],
        'pg-1',
        new Map(),
        DEFAULT_POLICY,
        NOW,
      );
    expect(pick(2_000_000 - 1_048_577)).toMatchObject({
      rejected: [
        {
          nodeId: 'pg-2',
          reason: "1048577 position units behind the failed primary's last position (max 1048576)",
        },
      ],
    });
    expect(pick(2_000_000 - 1_048_577).candidate).toBeUndefined();
    expect(pick(2_000_000 - 1_048_576).candidate).toBe('pg-2');
    const strict = resolvePolicy({ maxLagOnFailover: 100 });
    expect(choose([node('pg-2', { appliedPosition: lsn(9_800) })], {}, strict).candidate).toBeUndefined();
  });

  it('accepts HEALTHY, LAGGING and STALLED replicas (a replica of a dead primary is usually STALLED)', () => {
    for (const status of ['HEALTHY', 'LAGGING', 'STALLED'] as const) {
      expect(choose([node('pg-2', { appliedPosition: lsn(9000), status })]).candidate).toBe('pg-2');
    }
  });

  it('says so when the cluster has no replica at all', () => {
    expect(choose([])).toEqual({
      ranking: [],
      rejected: [],
      reason: 'no eligible replica: the cluster has no replica',
    });
  });
});
