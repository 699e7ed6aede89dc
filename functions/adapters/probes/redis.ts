/**
 * Redis probe: INFO replication on every node, and a heartbeat key written on each primary for time-based
 * lag.
 *
 * A round: (1) connect to every node and read its role; (2) on each primary, SET the heartbeat key to the
 * current time, WAIT briefly for its replicas to acknowledge, then read its offset (the position, which
 * the write moves on, so a stalled replica shows even when the application is idle); (3) on each replica,
 * read INFO replication and the key. A replica that has applied the primary's offset after this round's
 * write has lag 0; one that has not is as far behind as the key it holds is old.
 *
 * Positions are `<master_replid>:<offset>`: a primary's `master_repl_offset`; a replica's received offset
 * `slave_read_repl_offset` (Redis 7; `slave_repl_offset` before) and applied offset `slave_repl_offset`,
 * under the replication id of the primary it follows. A replica paused with CLIENT PAUSE WRITE keeps
 * receiving (its read offset advances) but applies nothing (its applied offset stays).
 */
import type { NodeEndpoint } from '../../core/hooks';
import type { HeartbeatInput } from '../../core/wire';
import { connectRedis, type RedisConnection } from '../hooks/clients';
import { errorMessage, type HostPort, parseEndpoint } from '../hooks/connection';
import { parseRedisInfo } from '../hooks/redis';
import { isDecimal, type Observation, type ProbeOptions, ProbeRound, type ProbeTarget } from './round';

/** The key the probe writes on primaries, holding the epoch milliseconds of the write. */
export const HEARTBEAT_KEY = 'replica-sentinel:heartbeat';
/** How long a primary waits for its replicas to acknowledge the heartbeat write (WAIT's timeout). */
export const ACK_WAIT_MS = 100;

const DEFAULT_PORT = 6379;
const REPLID = /^[0-9a-fA-F]{40}$/;

type Info = ReadonlyMap<string, string>;

interface Connected {
  readonly node: NodeEndpoint;
  readonly endpoint: HostPort;
  readonly client: RedisConnection;
  readonly info: Info;
}

/** This round's heartbeat write on a primary: the offset that includes it, and its value. */
interface HeartbeatWrite {
  readonly replid: string;
  readonly offset: bigint;
  readonly writtenAt: number;
}

async function replicationInfo(client: RedisConnection): Promise<Info> {
  return parseRedisInfo(String(await client.info('replication')));
}

function position(replid: string | undefined, offset: string | undefined): string | undefined {
  return replid !== undefined && REPLID.test(replid) && isDecimal(offset) ? `${replid}:${offset}` : undefined;
}

/**
 * Probes a Redis primary/replica set (self-managed replication; not Redis Cluster or Sentinel). Never
 * rejects: a node that cannot be reached is reported `reachable: false`; one that answers with an error
 * (WRONGPASS, NOAUTH, max clients...) gets no heartbeat this round.
 */
export async function probeRedis(target: ProbeTarget, options: ProbeOptions): Promise<HeartbeatInput[]> {
  const round = new ProbeRound(target, options);
  // undefined: not observed yet; null: the node refused the probe (no heartbeat this round).
  const results: (HeartbeatInput | null | undefined)[] = target.nodes.map(() => undefined);
  const connected: (Connected | undefined)[] = await Promise.all(
    target.nodes.map(async (node, i) => {
      try {
        const endpoint = parseEndpoint('redis', node, DEFAULT_PORT);
        const creds = await round.credentials(node);
        const client = await connectRedis(endpoint, creds, { statementTimeoutMs: round.timeoutMs });
        try {
          return { node, endpoint, client, info: await replicationInfo(client) };
        } catch (error) {
          client.destroy();
          throw error;
        }
      } catch (error) {
        results[i] = round.failed(node.nodeId, error) ?? null;
        return undefined;
      }
    }),
  );
  try {
    const writes = new Map<string, HeartbeatWrite>();
    await Promise.all(
      connected.map(async (node, i) => {
        if (node?.info.get('role') !== 'master') return;
        results[i] =
          (await round.guarded(node.node.nodeId, async () => {
            const { heartbeat, write } = await observePrimary(round, node);
            if (write !== undefined) writes.set(node.node.nodeId, write);
            return heartbeat;
          })) ?? null;
      }),
    );
    await Promise.all(
      connected.map(async (node, i) => {
        if (node === undefined || results[i] !== undefined) return;
        results[i] = (await round.guarded(node.node.nodeId, () => observeOther(round, node, writes))) ?? null;
      }),
    );
  } finally {
    for (const node of connected) node?.client.destroy();
  }
  return results.flatMap((heartbeat, i) => {
    if (heartbeat === null) return [];
    return [heartbeat ?? round.unreachable(target.nodes[i]?.nodeId ?? '?', 'not probed')];
  });
}

async function observePrimary(
  round: ProbeRound,
  node: Connected,
): Promise<{ heartbeat: HeartbeatInput; write: HeartbeatWrite | undefined }> {
  const writtenAt = round.now();
  let wrote = false;
  try {
    await node.client.set(HEARTBEAT_KEY, String(writtenAt));
    wrote = true;
    // Without the wait a healthy replica read a moment later could miss a write still in flight and be
    // reported a full probe interval behind.
    const replicas = Number(node.info.get('connected_slaves') ?? '0');
    if (replicas > 0) await node.client.sendCommand(['WAIT', String(replicas), String(ACK_WAIT_MS)]);
  } catch (error) {
    round.warn(
      `node ${node.node.nodeId}: heartbeat key not written (${errorMessage(error)}); the lag of its replicas ` +
        'is not measured this round',
    );
  }
  const info = await replicationInfo(node.client);
  const observedAt = round.now();
  const replid = info.get('master_replid');
  const offset = info.get('master_repl_offset');
  const write =
    wrote && info.get('role') === 'master' && replid !== undefined && isDecimal(offset)
      ? { replid, offset: BigInt(offset), writtenAt }
      : undefined;
  return {
    heartbeat: round.observed(node.node.nodeId, observe(round, info, undefined, undefined), observedAt),
    write,
  };
}

async function observeOther(
  round: ProbeRound,
  node: Connected,
  writes: ReadonlyMap<string, HeartbeatWrite>,
): Promise<HeartbeatInput> {
  const [info, value] = await Promise.all([replicationInfo(node.client), node.client.get(HEARTBEAT_KEY)]);
  const observedAt = round.now();
  return round.observed(node.node.nodeId, observe(round, info, writes, value ?? undefined), observedAt);
}

/** A node's role and positions from its INFO replication; for a replica, its time-based lag. */
function observe(
  round: ProbeRound,
  info: Info,
  writes: ReadonlyMap<string, HeartbeatWrite> | undefined,
  heartbeatValue: string | undefined,
): Observation {
  const role = info.get('role');
  const replid = info.get('master_replid');
  if (role === 'master')
    return { role: 'primary', position: position(replid, info.get('master_repl_offset')) };
  if (role !== 'slave') return { role: 'unknown' };
  const masterPort = Number(info.get('master_port'));
  const sourceNodeId = round.nodeIdAt(info.get('master_host'), masterPort, 'redis', DEFAULT_PORT);
  const applied = info.get('slave_repl_offset');
  const received = info.get('slave_read_repl_offset') ?? applied;
  const write = sourceNodeId === undefined ? undefined : writes?.get(sourceNodeId);
  return {
    role: 'replica',
    replication: {
      sourceNodeId,
      linkUp: info.get('master_link_status') === 'up',
      receivedPosition: position(replid, received),
      appliedPosition: position(replid, applied),
      lagSeconds: lagSeconds(round, write, replid, applied, heartbeatValue),
    },
  };
}

/**
 * 0 when the replica applied this round's heartbeat write of its source; else the age of the heartbeat it
 * holds. Not measured when its source was not written to this round (down, unknown, read-only) or it
 * holds no heartbeat yet.
 */
function lagSeconds(
  round: ProbeRound,
  write: HeartbeatWrite | undefined,
  replid: string | undefined,
  applied: string | undefined,
  heartbeatValue: string | undefined,
): number | undefined {
  if (write === undefined) return undefined;
  if (replid === write.replid && isDecimal(applied) && BigInt(applied) >= write.offset) return 0;
  if (!isDecimal(heartbeatValue)) return undefined;
  return Math.max(0, round.now() - Number(heartbeatValue)) / 1000;
}
