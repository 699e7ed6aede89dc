/**
 * Real Redis servers on free loopback ports (docs/CONVENTIONS.md, "Real databases on 127.0.0.1"): a primary and
 * its replicas, each a `redis-server` child process in its own temporary directory, no persistence. Used by
 * `replica-sentinel demo`, the detection benchmark and the tests.
 */
import { createClient } from 'redis';
import { freePort } from './dynamodb-local';
import {
  commandOnPath,
  LOOPBACK,
  type ManagedProcess,
  ProcessGroup,
  type ServerNode,
  type Topology,
  waitFor,
} from './server-processes';

export interface RedisTopology extends Topology {
  readonly primary: ServerNode;
  readonly replicas: readonly ServerNode[];
}

export interface RedisTopologyOptions {
  /** @default 2 */
  readonly replicas?: number;
  /** The redis-server binary. @default the one on PATH */
  readonly command?: string;
  /** Node ids are `<prefix>-1` (the primary), `<prefix>-2`... @default 'redis' */
  readonly prefix?: string;
  /** Gives up waiting for a node to answer or link after this long. @default 20 s */
  readonly readyTimeoutMs?: number;
}

/** Thrown when there is no redis-server to start; the message says how to install it. */
export class RedisServerMissingError extends Error {
  override readonly name = 'RedisServerMissingError';
}

/** The redis-server binary on `path` (a PATH value), or a {@link RedisServerMissingError} saying how to get it. */
export function redisServerCommand(path: string | undefined = process.env.PATH): string {
  const found = commandOnPath('redis-server', path);
  if (found === undefined) {
    throw new RedisServerMissingError(
      'redis-server was not found on PATH. Install it with `sudo apt-get install -y redis-server` ' +
        '(Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
  return found;
}

/** Runs one Redis command on a node and closes the connection. */
export async function redisCommand(node: ServerNode, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: node.host, port: node.port, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand<unknown>(args);
  } finally {
    client.destroy();
  }
}

/** INFO <section> of a Redis node as key → value. */
export async function redisInfo(node: ServerNode, section = 'replication'): Promise<Map<string, string>> {
  const text = String(await redisCommand(node, ['INFO', section]));
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Whether `replica`'s own INFO replication says it follows `primary` with its link up. */
export async function follows(replica: ServerNode, primary: ServerNode): Promise<boolean> {
  const info = await redisInfo(replica);
  return (
    info.get('role') === 'slave' &&
    Number(info.get('master_port')) === primary.port &&
    info.get('master_link_status') === 'up'
  );
}

/** A Redis protocol server (redis-server, or a sentinel) listening on loopback `port`. */
export function redisNode(nodeId: string, port: number, pid: number, dir: string): ServerNode {
  return { nodeId, host: LOOPBACK, port, endpoint: { nodeId, url: `redis://${LOOPBACK}:${port}` }, pid, dir };
}

/** Starts one redis-server in `group` (a replica of `replicaOf` when given) and waits until it answers PING. */
export async function startRedisServer(
  group: ProcessGroup,
  nodeId: string,
  replicaOf: ServerNode | undefined,
  options: { command?: string; extraArgs?: readonly string[]; readyTimeoutMs?: number } = {},
): Promise<[ServerNode, ManagedProcess]> {
  const dir = group.dir(nodeId, undefined);
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    LOOPBACK,
    '--save',
    '',
    '--appendonly',
    'no',
    '--repl-diskless-load',
    'on-empty-db',
    // The default 5 s wait for more replicas before a full sync would dominate the start.
    '--repl-diskless-sync-delay',
    '0',
    '--daemonize',
    'no',
    '--dir',
    dir,
    ...(replicaOf === undefined ? [] : ['--replicaof', replicaOf.host, String(replicaOf.port)]),
    ...(options.extraArgs ?? []),
  ];
  const managed = group.start(nodeId, options.command ?? redisServerCommand(), args, {
    dir,
    owner: undefined,
  });
  const node = redisNode(nodeId, port, managed.pid, dir);
  await waitFor(`${nodeId} to answer PING`, async () => (await redisCommand(node, ['PING'])) === 'PONG', {
    process: managed,
    timeoutMs: options.readyTimeoutMs,
  });
  return [node, managed];
}

/**
 * A Redis primary (`redis-1`) with `replicas` replicas (`redis-2`...), each linked
 * (`master_link_status:up`) before this resolves. On failure, whatever was started is stopped.
 *
 * @example
 * const redis = await startRedisTopology({ replicas: 2 });
 * try { await redis.kill(redis.primary); } finally { await redis.stop(); }
 */
export async function startRedisTopology(options: RedisTopologyOptions = {}): Promise<RedisTopology> {
  const group = new ProcessGroup();
  const prefix = options.prefix ?? 'redis';
  const serverOptions = {
    command: options.command,
    readyTimeoutMs: options.readyTimeoutMs,
  };
  return group.starting(async () => {
    const [primary] = await startRedisServer(group, `${prefix}-1`, undefined, serverOptions);
    // Every start settles before a failure stops the group: none is left half way, about to spawn.
    const started = await Promise.allSettled(
      Array.from({ length: options.replicas ?? 2 }, async (_, i) => {
        const [replica, managed] = await startRedisServer(
          group,
          `${prefix}-${i + 2}`,
          primary,
          serverOptions,
        );
        await waitFor(`${replica.nodeId} to link to ${primary.nodeId}`, () => follows(replica, primary), {
          process: managed,
          timeoutMs: options.readyTimeoutMs,
        });
        return replica;
      }),
    );
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const replicas = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    return { primary, replicas, ...group.topology() };
  });
}
