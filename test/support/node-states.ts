import type { NodeState } from '../../functions/core/node-state';

/**
 * A node item as the store holds it, for tests that build cluster views by hand: a Redis node of cluster
 * `cache`, HEALTHY, last reported 2 s before `now` (due 28 s after). `over` sets anything else.
 */
export function storedNode(
  nodeId: string,
  role: NodeState['role'],
  now: number,
  over: Partial<NodeState> = {},
): NodeState {
  return {
    clusterId: 'cache',
    nodeId,
    engine: 'redis',
    role,
    status: 'HEALTHY',
    statusSince: now - 600_000,
    statusReason: 'for the test',
    seq: 10,
    lastHeartbeatAt: now - 2000,
    lastProgressAt: now - 2000,
    healthyStreak: 3,
    observers: {},
    deadlineAt: now + 28_000,
    sweepShard: 'SHARD#01',
    version: 7,
    ...over,
  };
}
