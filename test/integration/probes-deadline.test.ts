/**
 * Per-node probe deadlines on real Redis servers (issue 11, finding 8): a frozen node (SIGSTOP: its port
 * still accepts connections, nothing answers) costs only its own heartbeat. Every frozen process is
 * resumed (SIGCONT) in `finally`, and the servers are stopped by pid in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLog } from '../../functions/adapters/log';
import { type ProbeTarget, probeCluster } from '../../functions/adapters/probes/index';
import type { HeartbeatInput } from '../../functions/core/wire';
import { probeRound } from '../../functions/probe/probe';
import { follows, startRedisServer } from '../../local/redis-servers';
import { type ManagedProcess, ProcessGroup } from '../../local/server-processes';
import { byNode, roundWhileFrozen, startProbedRedis } from '../support/probes';
import { type RedisTopology, redisCommand, redisInfo, type ServerNode, waitFor } from '../support/servers';

/** Short, so that the test is quick; a healthy loopback node answers in a few milliseconds. */
const DEADLINE_MS = 1_500;
/** How late past the deadline a round may end: the timer firing and the promises settling on a busy machine. */
const SLACK_MS = 1_000;

let seq = 0;

describe('probe deadlines: one frozen Redis node does not silence the others', () => {
  let topology: RedisTopology;
  let primary: ServerNode;
  let frozen: ServerNode;
  let healthy: ServerNode;
  let target: ProbeTarget;

  beforeAll(async () => {
    const redis = await startProbedRedis('cache-deadline', 'deadline');
    ({ topology, target } = redis);
    [frozen, healthy] = redis.replicas;
    primary = topology.primary;
  });
  afterAll(async () => {
    // Resume anything a failed test left frozen, so that stop() can end it.
    for (const node of [primary, frozen, healthy]) {
      if (node === undefined) continue;
      try {
        process.kill(node.pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await topology?.stop();
  });

  it('publishes the primary and the other replica on time while one replica is frozen, which gets a timeout view', async () => {
    // Prepare
    const published: { at: number; heartbeats: HeartbeatInput[] }[] = [];
    const warnings: string[] = [];

    // Act: a whole round of the probe function, publication included
    const { result: report, startedAt } = await roundWhileFrozen(frozen, () =>
      probeRound({
        targets: [
          { clusterId: target.clusterId, engine: target.engine, nodes: target.nodes, intervalSeconds: 10 },
        ],
        observerId: 'probe-deadline',
        credentials: async () => undefined,
        publish: async (heartbeats) => {
          published.push({ at: Date.now(), heartbeats: [...heartbeats] });
          return { attempts: 1 };
        },
        clock: Date.now,
        seq: () => ++seq,
        logger: { ...silentLog, warn: (message) => warnings.push(message) },
        deadlineMs: DEADLINE_MS,
      }),
    );

    // Assess: one publication, within the deadline (plus scheduling slack) of the round's start
    expect(published).toHaveLength(1);
    const [round] = published;
    if (round === undefined) throw new Error('nothing published');
    expect(round.at - startedAt).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(report.unreachable).toEqual([`${target.clusterId}/${frozen.nodeId}`]);

    const primaryBeat = byNode(round.heartbeats, primary.nodeId);
    expect(primaryBeat).toMatchObject({ role: 'primary', reachable: true });
    // Observed well before the deadline: it never waited for the frozen replica.
    expect(Date.parse(primaryBeat.observedAt) - startedAt).toBeLessThan(DEADLINE_MS);
    expect(byNode(round.heartbeats, healthy.nodeId)).toMatchObject({
      role: 'replica',
      reachable: true,
      replication: { sourceNodeId: primary.nodeId, linkUp: true, lagSeconds: 0 },
    });
    expect(byNode(round.heartbeats, frozen.nodeId)).toMatchObject({ role: 'unknown', reachable: false });
    expect(warnings.join('\n')).toContain(
      `node ${frozen.nodeId} not observed: no answer within the probe deadline of ${DEADLINE_MS} ms`,
    );

    // The resumed replica answers the next round again: nothing of the abandoned probe is left behind.
    const after = await probeCluster(target, {
      observerId: 'probe-deadline',
      now: Date.now,
      seq: () => ++seq,
      deadlineMs: DEADLINE_MS,
    });
    expect(after.map((hb) => [hb.nodeId, hb.reachable])).toEqual([
      [primary.nodeId, true],
      [frozen.nodeId, true],
      [healthy.nodeId, true],
    ]);
  });

  it('gives both replicas their views on time while the primary is frozen, and the primary a timeout view', async () => {
    // Prepare
    const warnings: string[] = [];

    // Act
    const {
      result: heartbeats,
      startedAt,
      endedAt,
    } = await roundWhileFrozen(primary, () =>
      probeCluster(target, {
        observerId: 'probe-deadline',
        now: Date.now,
        seq: () => ++seq,
        log: { warn: (message) => warnings.push(message) },
        deadlineMs: DEADLINE_MS,
      }),
    );

    // Assess
    expect(endedAt - startedAt).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(byNode(heartbeats, primary.nodeId)).toMatchObject({ role: 'unknown', reachable: false });
    expect(warnings.join('\n')).toContain(
      `node ${primary.nodeId} not observed: no answer within the probe deadline of ${DEADLINE_MS} ms`,
    );
    for (const replica of [frozen, healthy]) {
      const view = byNode(heartbeats, replica.nodeId);
      expect(view).toMatchObject({
        role: 'replica',
        reachable: true,
        replication: { sourceNodeId: primary.nodeId },
      });
      // No heartbeat write on the frozen primary this round: the lag is not measured (never a made-up 0).
      expect(view.replication?.lagSeconds).toBeUndefined();
      expect(Date.parse(view.observedAt) - startedAt).toBeLessThan(DEADLINE_MS);
    }
  });
});

describe('self-fencing settings of a Redis primary in its heartbeat', () => {
  const group = new ProcessGroup();
  let primary: ServerNode;
  let replica: ServerNode;

  beforeAll(async () => {
    [primary] = await startRedisServer(group, 'selffence-1', undefined, {
      extraArgs: ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '7'],
    });
    let managed: ManagedProcess;
    [replica, managed] = await startRedisServer(group, 'selffence-2', primary);
    await waitFor('the replica to link', () => follows(replica, primary), { process: managed });
    // The primary takes writes (the probe's heartbeat write) only once it counts its replica as good.
    await waitFor('the primary to count one good replica', async () => {
      return (await redisInfo(primary)).get('min_slaves_good_slaves') === '1';
    });
  });
  afterAll(async () => {
    await group.stop();
  });

  it('reports --min-replicas-to-write 1 as enabled on the primary, and 0 as disabled; replicas report none', async () => {
    // Prepare
    const target: ProbeTarget = {
      clusterId: 'cache-selffence',
      engine: 'redis',
      nodes: [primary.endpoint, replica.endpoint],
    };
    const options = { observerId: 'probe-selffence', now: Date.now, seq: () => ++seq };

    // Act
    const enabled = await probeCluster(target, options);
    await redisCommand(primary, ['CONFIG', 'SET', 'min-replicas-to-write', '0']);
    const disabled = await probeCluster(target, options);

    // Assess
    expect(byNode(enabled, primary.nodeId)).toMatchObject({
      role: 'primary',
      selfFencing: { enabled: true, detail: 'min-replicas-to-write 1, min-replicas-max-lag 7' },
    });
    expect(byNode(enabled, replica.nodeId).role).toBe('replica');
    expect(byNode(enabled, replica.nodeId).selfFencing).toBeUndefined();
    expect(byNode(disabled, primary.nodeId).selfFencing).toEqual({
      enabled: false,
      detail: 'min-replicas-to-write 0, min-replicas-max-lag 7',
    });
  });
});
