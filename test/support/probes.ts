import type { ProbeOptions, ProbeTarget } from '../../functions/adapters/probes/index';
import type { HeartbeatInput } from '../../functions/core/wire';
import { type RedisTopology, redisCommand, type ServerNode, startRedisTopology, waitFor } from './servers';

export interface TestProbeOptions {
  /** The heartbeats' `observerId`. @default 'probe-test' */
  readonly observerId?: string;
  /** @default Date.now (a probe of real servers); a fixed instant for probes of fakes */
  readonly now?: () => number;
  /** The `seq` of the first heartbeat is one more. @default 0 */
  readonly seqAfter?: number;
}

/**
 * The options of a probe round in a test: its own `seq` counter, and every warning it logs kept in
 * `warnings` (a test that reuses them across rounds empties it with `warnings.length = 0`).
 */
export function probeOptions(over: TestProbeOptions = {}): {
  options: ProbeOptions;
  warnings: string[];
} {
  let seq = over.seqAfter ?? 0;
  const warnings: string[] = [];
  return {
    warnings,
    options: {
      observerId: over.observerId ?? 'probe-test',
      now: over.now ?? Date.now,
      seq: () => ++seq,
      log: { warn: (message: string) => warnings.push(message) },
    },
  };
}

/** The heartbeat a round reported for `nodeId` (fails the test when there is none). */
export function byNode(heartbeats: readonly HeartbeatInput[], nodeId: string): HeartbeatInput {
  const heartbeat = heartbeats.find((hb) => hb.nodeId === nodeId);
  if (heartbeat === undefined) throw new Error(`no heartbeat for ${nodeId}`);
  return heartbeat;
}

/**
 * Freezes `node` (SIGSTOP: its port still accepts connections, nothing answers) for the duration of
 * `work`, and always resumes it (SIGCONT).
 */
export async function whileFrozen<T>(node: { readonly pid: number }, work: () => Promise<T>): Promise<T> {
  process.kill(node.pid, 'SIGSTOP');
  try {
    return await work();
  } finally {
    process.kill(node.pid, 'SIGCONT');
  }
}

/** `round` run while `node` is frozen, with when it started and ended (before the node is resumed). */
export function roundWhileFrozen<T>(
  node: { readonly pid: number },
  round: () => Promise<T>,
): Promise<{ result: T; startedAt: number; endedAt: number }> {
  return whileFrozen(node, async () => {
    const startedAt = Date.now();
    const result = await round();
    return { result, startedAt, endedAt: Date.now() };
  });
}

/**
 * Waits until every replica of `topology` receives the primary's stream: a Redis replica is fed only after
 * its first REPLCONF ACK (up to a second after the sync).
 */
export async function replicasReceiving(topology: RedisTopology): Promise<void> {
  await redisCommand(topology.primary, ['SET', 'warm-up', '1']);
  await waitFor('both replicas to receive the stream', async () => {
    const values = await Promise.all(
      topology.replicas.map((replica) => redisCommand(replica, ['GET', 'warm-up'])),
    );
    return values.every((value) => value === '1');
  });
}

/** A Redis primary and two replicas probed as one cluster. */
export interface ProbedRedis {
  readonly topology: RedisTopology;
  /** The two replicas, in the order the topology started them. */
  readonly replicas: readonly [ServerNode, ServerNode];
  /** The cluster `clusterId` of the three nodes, primary first. */
  readonly target: ProbeTarget;
}

/**
 * Starts a Redis primary and two replicas (node ids `<prefix>-1`…, `redis` unless told) and waits until
 * both replicas receive the primary's stream; stops the servers when that fails.
 */
export async function startProbedRedis(clusterId: string, prefix?: string): Promise<ProbedRedis> {
  const topology = await startRedisTopology({ replicas: 2, prefix });
  try {
    const [first, second] = topology.replicas;
    if (first === undefined || second === undefined) throw new Error('expected two replicas');
    const target: ProbeTarget = {
      clusterId,
      engine: 'redis',
      nodes: [topology.primary, first, second].map((node) => node.endpoint),
    };
    await replicasReceiving(topology);
    return { topology, replicas: [first, second], target };
  } catch (error) {
    await topology.stop();
    throw error;
  }
}
