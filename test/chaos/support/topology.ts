import { freePort } from '../../../local/dynamodb-local';
import { redisServerCommand } from '../../../local/redis-servers';
import { LOOPBACK, ProcessGroup, waitFor } from '../../../local/server-processes';
import { restartableRedisArgs } from '../../support/redis-args';
import { redisCommand, redisInfo, startMariaDbPair, startPostgresPair } from '../../support/servers';
import { type Address, type ChaosEngine, DRIVERS, type EngineDriver } from './engines';
import { TcpProxy } from './proxy';

/**
 * One server of a chaos topology. `address` is the server itself (where the writer, a client that is never
 * partitioned, reaches it); `url` is its network address for everyone else — the monitor (`watch` and the
 * runbooks' hooks) and, on Redis, the other servers replicating from it — through the node's own
 * {@link TcpProxy}, so that cutting the proxy partitions the node from the monitor and its replicas while
 * the writer still reaches it. A replica's source as it reports it (master_host:master_port) is then the
 * URL the monitor knows, so the probe names the source node correctly.
 */
export interface ChaosNode {
  readonly nodeId: string;
  readonly address: Address;
  /** Redis only: PostgreSQL and MariaDB replicate directly and are watched directly (no partition scenario). */
  readonly proxy?: TcpProxy;
  readonly url: string;
  /** The server process (changes when the node is restarted). */
  pid: number;
}

export interface ChaosTopology {
  readonly engine: ChaosEngine;
  readonly driver: EngineDriver;
  /** Every node, the initial primary first. */
  readonly nodes: readonly ChaosNode[];
  node(nodeId: string): ChaosNode;
  /** SIGKILL (a crash) and wait until the process is gone. */
  kill(node: ChaosNode): Promise<void>;
  /** SIGSTOP: the process holds its connections and answers nothing. */
  freeze(node: ChaosNode): void;
  /** SIGCONT. */
  thaw(node: ChaosNode): void;
  /**
   * Redis: starts the node's server again on its port and directory, as it was configured at first
   * (a primary comes back a primary, with whatever its files hold), and waits until it answers.
   */
  restart(node: ChaosNode): Promise<void>;
  /** Cuts the node's network (monitor and replicas) off; the writer still reaches it. */
  isolate(node: ChaosNode): void;
  heal(node: ChaosNode): void;
  stop(): Promise<void>;
}

export interface RedisTopologyOptions {
  /** Node ids `<prefix>-1` (primary), `-2`, `-3`. @default 'redis' */
  readonly prefix?: string;
  /** Append-only file on every node (fsync every write): a restarted node comes back with its data. */
  readonly persistent?: boolean;
}

/**
 * Redis primary + 2 replicas on free loopback ports, each behind its proxy, the replicas replicating
 * through the primary's proxy. Replication pings every second and times out after 3 s, so a cut link is
 * seen as down within seconds (the default 60 s would hide a partition for a minute).
 */
export async function startRedisChaos(options: RedisTopologyOptions = {}): Promise<ChaosTopology> {
  const prefix = options.prefix ?? 'redis';
  const group = new ProcessGroup();
  const proxies: TcpProxy[] = [];
  const frozen = new Set<number>();
  const command = redisServerCommand();
  const specs: { nodeId: string; port: number; dir: string; args: string[] }[] = [];
  const nodes: ChaosNode[] = [];
  const stop = async () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await group.stop();
    await Promise.all(proxies.map((p) => p.close()));
  };
  try {
    for (let i = 1; i <= 3; i++) {
      const nodeId = `${prefix}-${i}`;
      const port = await freePort();
      const proxy = await TcpProxy.start(nodeId, { host: LOOPBACK, port });
      proxies.push(proxy);
      const dir = group.dir(nodeId, undefined);
      const primaryProxy = proxies[0] as TcpProxy;
      const args = restartableRedisArgs({
        port,
        dir,
        appendOnly: options.persistent === true,
        ...(i === 1 ? {} : { replicaOf: { host: LOOPBACK, port: primaryProxy.port } }),
        extra: ['--repl-ping-replica-period', '1', '--repl-timeout', '3'],
      });
      specs.push({ nodeId, port, dir, args });
      nodes.push({
        nodeId,
        address: { host: LOOPBACK, port },
        proxy,
        url: `redis://${LOOPBACK}:${proxy.port}`,
        pid: 0,
      });
    }
    const launch = async (node: ChaosNode) => {
      const spec = specs.find((s) => s.nodeId === node.nodeId);
      if (spec === undefined) throw new Error(`no such node ${node.nodeId}`);
      const managed = group.start(node.nodeId, command, spec.args, { dir: spec.dir, owner: undefined });
      await node.proxy?.targetUp();
      node.pid = managed.pid;
      await waitFor(
        `${node.nodeId} to answer PING`,
        async () => (await redisCommand(serverNode(node), ['PING'])) === 'PONG',
        { process: managed },
      );
    };
    await Promise.all(nodes.map(launch));
    const [primary, ...replicas] = nodes as [ChaosNode, ...ChaosNode[]];
    for (const replica of replicas) {
      await waitFor(`${replica.nodeId} to link to ${primary.nodeId}`, async () => {
        const info = await redisInfo(serverNode(replica));
        return info.get('role') === 'slave' && info.get('master_link_status') === 'up';
      });
    }
    return {
      engine: 'redis',
      driver: DRIVERS.redis,
      nodes,
      node: (id) => findNode(nodes, id),
      kill: async (node) => {
        frozen.delete(node.pid);
        await group.kill(node.pid);
        await node.proxy?.targetDown();
      },
      freeze: (node) => {
        process.kill(node.pid, 'SIGSTOP');
        frozen.add(node.pid);
      },
      thaw: (node) => {
        process.kill(node.pid, 'SIGCONT');
        frozen.delete(node.pid);
      },
      restart: launch,
      isolate: (node) => node.proxy?.cut(),
      heal: (node) => node.proxy?.heal(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function findNode(nodes: readonly ChaosNode[], nodeId: string): ChaosNode {
  const node = nodes.find((n) => n.nodeId === nodeId);
  if (node === undefined) throw new Error(`no node ${nodeId} in the topology`);
  return node;
}

/** The node as test/support/servers.ts's clients take it. */
export function serverNode(node: ChaosNode) {
  return {
    nodeId: node.nodeId,
    host: node.address.host,
    port: node.address.port,
    endpoint: { nodeId: node.nodeId, url: node.url },
    pid: node.pid,
    dir: '',
  };
}

/**
 * PostgreSQL primary + streaming standby, or MariaDB primary + GTID replica (test/support/servers.ts),
 * watched directly: these engines run the scenarios without a partition (kill), so no proxy is needed,
 * and a standby reports its source by the address it streams from.
 */
export async function startSqlChaos(engine: 'postgresql' | 'mariadb'): Promise<ChaosTopology> {
  const pair = engine === 'postgresql' ? await startPostgresPair() : await startMariaDbPair();
  const nodes: ChaosNode[] = [pair.primary, pair.replica].map((server) => ({
    nodeId: server.nodeId,
    address: { host: server.host, port: server.port },
    url: server.endpoint.url,
    pid: server.pid,
  }));
  const unsupported = (what: string) => () => {
    throw new Error(`${what} is not built for ${engine} topologies`);
  };
  return {
    engine,
    driver: DRIVERS[engine],
    nodes,
    node: (id) => findNode(nodes, id),
    kill: (node) => pair.kill({ ...serverNode(node), pid: node.pid }),
    freeze: unsupported('freeze'),
    thaw: unsupported('thaw'),
    restart: async () => unsupported('restart')(),
    isolate: unsupported('isolate'),
    heal: unsupported('heal'),
    stop: () => pair.stop(),
  };
}
