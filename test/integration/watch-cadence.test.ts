import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { parseClusterConfig } from '../../functions/core/config/parse';
import type { Transition } from '../../functions/core/incidents';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { type HeartbeatSink, localSink, watch } from '../../local/watch';
import { type RedisTopology, redisCommand, startRedisTopology, waitFor } from '../support/servers';

/**
 * One cadence knob (issue 13, finding 8): a cluster whose own file says heartbeatIntervalSeconds 1 and
 * heartbeatTimeoutSeconds 3, watched with no --interval by a local stack with no --sweep-interval, is
 * probed every second and swept at its pace: no node flaps SILENT, and a stalled replica is caught within a
 * few probe rounds of its stallAfterSeconds. Progress is counted in watch rounds, never in elapsed time.
 */
describe('watch and the local sweep follow the clusters policy', () => {
  let stack: LocalStack;
  let redis: RedisTopology;
  const transitions: Transition[] = [];
  beforeAll(async () => {
    [stack, redis] = await Promise.all([
      startLocalStack({ port: 0, print: () => undefined, onTransition: (t) => transitions.push(t) }),
      startRedisTopology({ replicas: 1 }),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('probes a 1 s / 3 s cluster every second without a SILENT flap, and catches its stall', async () => {
    const [replica] = redis.replicas;
    if (!replica) throw new Error('no replica');
    const yaml = [
      'clusters:',
      '  - id: fast',
      '    engine: redis',
      '    mode: "off"',
      '    policy: { heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 3, stallAfterSeconds: 3 }',
      '    nodes:',
      `      - { id: r1, url: "redis://127.0.0.1:${redis.primary.port}" }`,
      `      - { id: r2, url: "redis://127.0.0.1:${replica.port}" }`,
      '',
    ].join('\n');
    const config = parseClusterConfig(yaml, 'clusters.yaml', { target: 'local' });
    const client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
    let rounds = 0;
    const http = localSink(stack.url);
    const sink: HeartbeatSink = {
      send: async (heartbeats) => {
        rounds++;
        return http.send(heartbeats);
      },
    };
    const stop = new AbortController();
    const watching = watch({
      config,
      client,
      tableName: stack.tableName,
      sink,
      signal: stop.signal,
      print: () => undefined,
    });
    const reached = (nodeId: string, status: string, after = 0) =>
      transitions.some((t) => t.nodeId === nodeId && t.to === status && t.version > after);
    try {
      await waitFor('both nodes HEALTHY', async () => reached('r1', 'HEALTHY') && reached('r2', 'HEALTHY'), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      // Twelve more rounds: four heartbeat timeouts of the policy, each long enough for a sweep to
      // silence a node probed less often than every 3 s. (Before its first report a node may be SILENT: on a
      // loaded machine the very first probe can miss its deadline. The flap this test is about comes after.)
      const settled = rounds;
      const healthyAt = Math.max(...transitions.filter((t) => t.to === 'HEALTHY').map((t) => t.at));
      const flaps = () => transitions.filter((t) => t.to === 'SILENT' && t.at > healthyAt);
      await waitFor('12 more watch rounds', async () => rounds >= settled + 12, {
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      expect(flaps()).toEqual([]);

      // The stall: the replica receives the primary's writes (the probe's heartbeat key) and applies none.
      const version = Math.max(0, ...transitions.filter((t) => t.nodeId === 'r2').map((t) => t.version));
      await redisCommand(replica, ['CLIENT', 'PAUSE', '60000', 'WRITE']);
      const paused = rounds;
      await waitFor('r2 STALLED', async () => reached('r2', 'STALLED', version), {
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      // stallAfterSeconds (3) at one round a second, plus the rounds before the first lagging report.
      expect(rounds - paused).toBeLessThanOrEqual(8);
      expect(flaps()).toEqual([]);
    } finally {
      await redisCommand(replica, ['CLIENT', 'UNPAUSE']).catch(() => undefined);
      stop.abort();
      await watching;
      client.destroy();
    }
  });
});
