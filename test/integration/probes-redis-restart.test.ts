import { afterEach, describe, expect, it } from '@jest/globals';
import { HEARTBEAT_KEY, type ProbeTarget, probeCluster } from '../../functions/adapters/probes/index';
import { applyHeartbeat } from '../../functions/core/detect';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import { type Heartbeat, type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { freePort } from '../../local/dynamodb-local';
import { redisServerCommand } from '../../local/redis-servers';
import { LOOPBACK, type ManagedProcess, ProcessGroup } from '../../local/server-processes';
import { probeOptions } from '../support/probes';
import { restartableRedisArgs } from '../support/redis-args';
import { redisCommand, type ServerNode, waitFor } from '../support/servers';

/**
 * A Redis primary killed with SIGKILL and restarted as it was: with an append-only file it comes back with
 * its keys under a new replication id at offset 0; without persistence it comes back empty. The probe's
 * key count (`datasetKeys`) tells the two apart, and the restart-empty rule with it.
 */
const { options, warnings } = probeOptions({ observerId: 'probe-restart-test' });

/** One redis-server on a fixed port and directory, which can be SIGKILLed and started again as it was. */
class RestartableRedis {
  private managed: ManagedProcess | undefined;
  private constructor(
    private readonly group: ProcessGroup,
    readonly node: ServerNode,
    private readonly args: readonly string[],
  ) {}

  static async start(
    group: ProcessGroup,
    nodeId: string,
    appendOnly: boolean,
    replicaOf?: ServerNode,
  ): Promise<RestartableRedis> {
    const dir = group.dir(nodeId, undefined);
    const port = await freePort();
    const args = restartableRedisArgs({
      port,
      dir,
      appendOnly,
      replicaOf,
    });
    const node: ServerNode = {
      nodeId,
      host: LOOPBACK,
      port,
      endpoint: { nodeId, url: `redis://${LOOPBACK}:${port}` },
      pid: 0,
      dir,
    };
    const server = new RestartableRedis(group, node, args);
    await server.launch();
    return server;
  }

  /** Starts the server and waits until it answers PING (which it refuses while loading its data). */
  async launch(): Promise<void> {
    this.managed = this.group.start(this.node.nodeId, redisServerCommand(), this.args, {
      dir: this.node.dir,
      owner: undefined,
    });
    await waitFor(
      `${this.node.nodeId} to answer PING`,
      async () => (await redisCommand(this.node, ['PING'])) === 'PONG',
      { process: this.managed, timeoutMs: 30_000 },
    );
  }

  async kill(): Promise<void> {
    if (this.managed === undefined) throw new Error(`${this.node.nodeId} is not running`);
    await this.group.kill(this.managed.pid);
    this.managed = undefined;
  }
}

/**
 * A primary with one replica: a Redis primary keeps a replication offset only once a replica has connected
 * (its backlog exists from then on), as in any replicated set the product watches.
 */
async function replicatedPrimary(
  group: ProcessGroup,
  nodeId: string,
  appendOnly: boolean,
): Promise<RestartableRedis> {
  const primary = await RestartableRedis.start(group, `${nodeId}-1`, appendOnly);
  const replica = await RestartableRedis.start(group, `${nodeId}-2`, false, primary.node);
  await waitFor(`${replica.node.nodeId} to link to ${primary.node.nodeId}`, async () => {
    const info = String(await redisCommand(replica.node, ['INFO', 'replication']));
    return /master_link_status:up/.test(info);
  });
  return primary;
}

/** Writes `count` keys spread over db 0 and db 3 (the count is summed over every dbN line). */
async function writeKeys(node: ServerNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const db = i % 2 === 0 ? '0' : '3';
    await redisCommand(node, [
      'EVAL',
      `redis.call('SELECT', '${db}') return redis.call('SET', KEYS[1], ARGV[1])`,
      '1',
      `k${i}`,
      String(i),
    ]);
  }
}

async function probePrimary(node: ServerNode): Promise<Heartbeat> {
  const target: ProbeTarget = { clusterId: 'restart', engine: 'redis', nodes: [node.endpoint] };
  const [heartbeat] = await probeCluster(target, options);
  if (heartbeat === undefined) throw new Error(`no heartbeat for ${node.nodeId}`);
  return parseHeartbeat(heartbeat satisfies HeartbeatInput);
}

function apply(prev: NodeState | undefined, heartbeat: Heartbeat): NodeState {
  const outcome = applyHeartbeat(prev, heartbeat, {
    policy: DEFAULT_POLICY,
    now: heartbeat.observedAtMs,
    sweepShards: 16,
  });
  if (outcome.kind !== 'applied') throw new Error(`heartbeat ${outcome.kind}: ${outcome.reason}`);
  return outcome.state;
}

/** The replication id and offset of a `replid:offset` position. */
function history(position: string | undefined): { replid: string; offset: number } {
  const [replid, offset] = (position ?? '').split(':');
  if (replid === undefined || offset === undefined) throw new Error(`not a Redis position: ${position}`);
  return { replid, offset: Number(offset) };
}

describe('the Redis probe and the restart-empty rule across a SIGKILL and a restart', () => {
  let group: ProcessGroup | undefined;
  afterEach(async () => {
    await group?.stop();
    group = undefined;
  });

  it('counts the keys over every db without its own heartbeat key, and a restart from the append-only file keeps them: no DATA_LOSS', async () => {
    group = new ProcessGroup();
    const server = await replicatedPrimary(group, 'aof', true);
    await writeKeys(server.node, 25);

    const before = await probePrimary(server.node);
    expect(before).toMatchObject({ role: 'primary', datasetKeys: 25 });
    // The server holds one key more: the probe's heartbeat key, which is not the application's data.
    expect(await redisCommand(server.node, ['EXISTS', HEARTBEAT_KEY])).toBe(1);
    const state = apply(undefined, before);
    expect(state).toMatchObject({ status: 'HEALTHY', datasetKeys: 25 });

    await server.kill();
    await server.launch();
    const after = await probePrimary(server.node);
    // What the false positive looked like: a new replication id, the offset reset below the previous one.
    expect(history(after.position).replid).not.toBe(history(before.position).replid);
    expect(history(after.position).offset).toBeLessThan(history(before.position).offset);
    expect(after.datasetKeys).toBe(25);
    const judged = apply(state, after);
    expect(judged).toMatchObject({ status: 'HEALTHY', position: after.position, datasetKeys: 25 });
    expect(judged.dataLossReason).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('a restart without persistence comes back with 0 keys: DATA_LOSS naming the keys lost', async () => {
    group = new ProcessGroup();
    const server = await replicatedPrimary(group, 'bare', false);
    await writeKeys(server.node, 12);

    const before = await probePrimary(server.node);
    expect(before.datasetKeys).toBe(12);
    const state = apply(undefined, before);

    await server.kill();
    await server.launch();
    const after = await probePrimary(server.node);
    expect(after.datasetKeys).toBe(0);
    // The probe wrote its heartbeat key again: the server's one key is not counted.
    expect(await redisCommand(server.node, ['DBSIZE'])).toBe(1);
    const judged = apply(state, after);
    expect(judged.status).toBe('DATA_LOSS');
    expect(judged.dataLossReason).toContain(
      `position ${after.position} after ${before.position}, 0 keys instead of 12, 12 keys lost`,
    );
    expect(warnings).toEqual([]);
  });
});
