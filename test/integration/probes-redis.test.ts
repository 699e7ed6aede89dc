import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HEARTBEAT_KEY, type ProbeTarget, probeCluster } from '../../functions/adapters/probes/index';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { parseHeartbeat } from '../../functions/core/wire';
import { freePort } from '../../local/dynamodb-local';
import { byNode, probeOptions, startProbedRedis } from '../support/probes';
import { type RedisTopology, redisCommand, redisInfo, type ServerNode, waitFor } from '../support/servers';

const { options, warnings } = probeOptions();

/** The offset of a `replid:offset` position. */
function offset(position: string | undefined): bigint {
  if (position === undefined) throw new Error('no position');
  return BigInt(position.split(':')[1] ?? '');
}

describe('the Redis probe on a real primary and two replicas', () => {
  let topology: RedisTopology;
  let primary: ServerNode;
  let paused: ServerNode;
  let target: ProbeTarget;

  beforeAll(async () => {
    const redis = await startProbedRedis('cache-redis');
    ({ topology, target } = redis);
    [paused] = redis.replicas;
    primary = topology.primary;
  });
  afterAll(async () => {
    await topology?.stop();
  });

  it('reports all three nodes with the roles the servers report, as heartbeats parseHeartbeat accepts', async () => {
    const heartbeats = await probeCluster(target, options);

    expect(heartbeats.map((hb) => [hb.nodeId, hb.role, hb.reachable])).toEqual([
      ['redis-1', 'primary', true],
      ['redis-2', 'replica', true],
      ['redis-3', 'replica', true],
    ]);
    const parsed = heartbeats.map((hb) => parseHeartbeat(hb));
    expect(parsed.every((hb) => hb.observerId === 'probe-test' && hb.engine === 'redis')).toBe(true);
    expect(new Set(parsed.map((hb) => hb.seq)).size).toBe(3);
  });

  it('gives the primary its replication id and offset, which the heartbeat write moves on', async () => {
    const before = await redisInfo(primary);

    const heartbeat = byNode(await probeCluster(target, options), 'redis-1');

    const after = await redisInfo(primary);
    // The primary PINGs its replicas every 10 s, which moves its offset on too: compare, do not equate.
    expect(heartbeat.position?.split(':')[0]).toBe(after.get('master_replid'));
    expect(offset(heartbeat.position)).toBeLessThanOrEqual(BigInt(after.get('master_repl_offset') ?? ''));
    expect(offset(heartbeat.position)).toBeGreaterThan(BigInt(before.get('master_repl_offset') ?? ''));
    expect(Number(await redisCommand(primary, ['GET', HEARTBEAT_KEY]))).toBeLessThanOrEqual(Date.now());
    expect(heartbeat.replication).toBeUndefined();
  });

  it('reports a caught-up replica with its source, the link up, the primary position applied, and lag 0', async () => {
    const heartbeats = await probeCluster(target, options);

    const source = byNode(heartbeats, 'redis-1');
    const replica = byNode(heartbeats, 'redis-3');
    expect(replica.replication).toEqual({
      sourceNodeId: 'redis-1',
      linkUp: true,
      receivedPosition: expect.any(String),
      appliedPosition: expect.any(String),
      lagSeconds: 0,
    });
    // Applied all the primary had when it was read (a replication PING may have come since).
    const applied = parsePosition('redis', replica.replication?.appliedPosition ?? '');
    expect(comparePositions(applied, parsePosition('redis', source.position ?? ''))).toBeGreaterThanOrEqual(
      0,
    );
  });

  it('shows a replica paused with CLIENT PAUSE WRITE holding its applied offset while the primary advances, with a growing lag', async () => {
    await redisCommand(paused, ['CLIENT', 'PAUSE', '60000', 'WRITE']);
    try {
      const first = await probeCluster(target, options);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await probeCluster(target, options);

      const [stalled1, stalled2] = [byNode(first, 'redis-2'), byNode(second, 'redis-2')];
      expect(stalled2.replication?.appliedPosition).toBe(stalled1.replication?.appliedPosition);
      expect(offset(byNode(second, 'redis-1').position)).toBeGreaterThan(
        offset(byNode(first, 'redis-1').position),
      );
      // It still receives: the stream piles up unapplied.
      expect(offset(stalled2.replication?.receivedPosition)).toBeGreaterThan(
        offset(stalled2.replication?.appliedPosition),
      );
      expect(stalled2.replication?.linkUp).toBe(true);
      expect(stalled1.replication?.lagSeconds).toBeGreaterThan(0);
      expect(stalled2.replication?.lagSeconds).toBeGreaterThan(stalled1.replication?.lagSeconds ?? Infinity);
      const primaryAt = parsePosition('redis', byNode(second, 'redis-1').position ?? '');
      const appliedAt = parsePosition('redis', stalled2.replication?.appliedPosition ?? '');
      expect(comparePositions(appliedAt, primaryAt)).toBe(-1);
      // The healthy replica keeps up meanwhile.
      const keptUp = parsePosition('redis', byNode(second, 'redis-3').replication?.appliedPosition ?? '');
      expect(comparePositions(keptUp, primaryAt)).toBeGreaterThanOrEqual(0);
      expect(byNode(second, 'redis-3').replication?.lagSeconds).toBe(0);
    } finally {
      await redisCommand(paused, ['CLIENT', 'UNPAUSE']);
    }
  });

  it('reports a node on a closed port as unreachable with role unknown, and still reports the others', async () => {
    const closed = { nodeId: 'redis-9', url: `redis://127.0.0.1:${await freePort()}` };
    warnings.length = 0;

    const heartbeats = await probeCluster({ ...target, nodes: [...target.nodes, closed] }, options);

    expect(byNode(heartbeats, 'redis-9')).toMatchObject({ role: 'unknown', reachable: false });
    expect(byNode(heartbeats, 'redis-9').replication).toBeUndefined();
    expect(heartbeats.filter((hb) => hb.reachable)).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(/redis-9 not observed: .*ECONNREFUSED/);
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });

  it('after the primary is killed reports it unreachable and the replication link down on both replicas', async () => {
    await topology.kill(primary);
    await waitFor('the replicas to see the link down', async () => {
      const infos = await Promise.all(topology.replicas.map((replica) => redisInfo(replica)));
      return infos.every((info) => info.get('master_link_status') === 'down');
    });

    const heartbeats = await probeCluster(target, options);

    expect(byNode(heartbeats, 'redis-1')).toMatchObject({ role: 'unknown', reachable: false });
    for (const nodeId of ['redis-2', 'redis-3']) {
      const replica = byNode(heartbeats, nodeId);
      expect(replica).toMatchObject({ role: 'replica', reachable: true });
      expect(replica.replication).toMatchObject({ sourceNodeId: 'redis-1', linkUp: false });
      // No write reached their source this round: lag is not measured rather than guessed.
      expect(replica.replication?.lagSeconds).toBeUndefined();
    }
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });
});
