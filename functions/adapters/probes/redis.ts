/**
 * Redis probe: INFO replication on every node, and a heartbeat key written on each primary for time-based
 * lag.
 *
 * A round probes every node at once, each under its own deadline: connect and read its role; on a
 * primary, SET the heartbeat key to the current time, WAIT briefly for its replicas to acknowledge, then
 * read its offset (the position, which the write moves on, so a stalled replica shows even when the
 * application is idle), its self-fencing settings (`min-replicas-to-write`, `min-replicas-max-lag`) and its
 * data set's key count (INFO keyspace, without the heartbeat key: the restart-empty rule compares it);
 * on a replica, wait for its source's write (at most half its remaining time), then read INFO replication
 * and the key. A replica that has applied the primary's offset after this round's write has lag 0; one
 * that has not is as far behind as the key it holds is old.
 *
 * Positions are `<master_replid>:<offset>`: a primary's `master_repl_offset`; a replica's received offset
 * `slave_read_repl_offset` (Redis 7; `slave_repl_offset` before) and applied offset `slave_repl_offset`,
 * under the replication id of the primary it follows. A replica paused with CLIENT PAUSE WRITE keeps
 * receiving (its read offset advances) but applies nothing (its applied offset stays).
 */
import type { NodeEndpoint } from '../../core/hooks';
import type { HeartbeatInput } from '../../core/wire';
import { connectRedis, type RedisConnection } from '../hooks/clients';
import { errorMessage, parseEndpoint } from '../hooks/connection';
import { parseRedisInfo } from '../hooks/redis';
import {
  isDecimal,
  type NodeDeadline,
  type Observation,
  type ProbeOptions,
  ProbeRound,
  type ProbeTarget,
  type SelfFencing,
} from './round';

/** The key the probe writes on primaries, holding the epoch milliseconds of the write. */
export const HEARTBEAT_KEY = 'replica-sentinel:heartbeat';
/** How long a primary waits for its replicas to acknowledge the heartbeat write (WAIT's timeout). */
export const ACK_WAIT_MS = 100;

const DEFAULT_PORT = 6379;
const REPLID = /^[0-9a-fA-F]{40}$/;

type Info = ReadonlyMap<string, string>;

/** This round's heartbeat write on a primary: the offset that includes it, and its value. */
interface HeartbeatWrite {
  readonly nodeId: string;
  readonly replid: string;
  readonly offset: bigint;
  readonly writtenAt: number;
}

/** Each node's heartbeat write of this round, settled once its probe wrote, or will not (`undefined`). */
class RoundWrites {
  private readonly settled = new Map<string, Promise<HeartbeatWrite | undefined>>();
  private readonly settle = new Map<string, (write: HeartbeatWrite | undefined) => void>();

  constructor(nodeIds: readonly string[]) {
    for (const nodeId of nodeIds) {
      this.settled.set(nodeId, new Promise((resolve) => this.settle.set(nodeId, resolve)));
    }
  }

  /** Settles `nodeId`'s write; later calls do nothing. */
  done(nodeId: string, write: HeartbeatWrite | undefined): void {
    this.settle.get(nodeId)?.(write);
  }

  /**
   * `nodeId`'s write, waiting for it at most `waitMs`: a frozen primary must not make its replicas miss
   * their own deadline (their lag is then not measured this round).
   */
  async of(nodeId: string | undefined, waitMs: number): Promise<HeartbeatWrite | undefined> {
    const write = nodeId === undefined ? undefined : this.settled.get(nodeId);
    if (write === undefined) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const givenUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
    });
    try {
      return await Promise.race([write, givenUp]);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function replicationInfo(client: RedisConnection): Promise<Info> {
  return parseRedisInfo(String(await client.info('replication')));
}

function position(replid: string | undefined, offset: string | undefined): string | undefined {
  return replid !== undefined && REPLID.test(replid) && isDecimal(offset) ? `${replid}:${offset}` : undefined;
}

/**
 * Probes a Redis primary/replica set (self-managed replication; not Redis Cluster or Sentinel). Never
 * rejects: a node that cannot be reached, or does not answer within the round's deadline, is reported
 * `reachable: false`; one that answers with an error (WRONGPASS, NOAUTH, max clients...) gets no
 * heartbeat this round.
 *
 * Every node is probed at once under its own deadline. A replica reads its replication after its source's
 * heartbeat write (for the lag), but waits for it only half of its remaining time: a frozen primary costs
 * its replicas the lag measurement of one round, never their heartbeat.
 */
export async function probeRedis(target: ProbeTarget, options: ProbeOptions): Promise<HeartbeatInput[]> {
  const round = new ProbeRound(target, options);
  const writes = new RoundWrites(target.nodes.map((node) => node.nodeId));
  const heartbeats = await Promise.all(
    target.nodes.map(async (node) => {
      try {
        return await round.observeNode(node.nodeId, (deadline) => observeNode(round, node, deadline, writes));
      } finally {
        writes.done(node.nodeId, undefined);
      }
    }),
  );
  return heartbeats.filter((heartbeat) => heartbeat !== undefined);
}

async function observeNode(
  round: ProbeRound,
  node: NodeEndpoint,
  deadline: NodeDeadline,
  writes: RoundWrites,
): Promise<HeartbeatInput> {
  const endpoint = parseEndpoint('redis', node, DEFAULT_PORT);
  const creds = await round.credentials(node);
  const client = await connectRedis(endpoint, creds, {
    statementTimeoutMs: round.deadlineMs,
    signal: deadline.signal,
  });
  try {
    const info = await replicationInfo(client);
    if (info.get('role') === 'master') {
      const { heartbeat, write } = await observePrimary(round, node, client, info, deadline);
      writes.done(node.nodeId, write);
      return heartbeat;
    }
    writes.done(node.nodeId, undefined);
    const source =
      info.get('role') === 'slave'
        ? round.nodeIdAt(info.get('master_host'), Number(info.get('master_port')), 'redis', DEFAULT_PORT)
        : undefined;
    const write = await writes.of(source, deadline.remainingMs() / 2);
    const [current, value] = await Promise.all([replicationInfo(client), client.get(HEARTBEAT_KEY)]);
    const observedAt = round.now();
    return round.observed(node.nodeId, observe(round, current, write, value ?? undefined), observedAt);
  } finally {
    client.destroy();
  }
}

async function observePrimary(
  round: ProbeRound,
  node: NodeEndpoint,
  client: RedisConnection,
  info: Info,
  deadline: NodeDeadline,
): Promise<{ heartbeat: HeartbeatInput; write: HeartbeatWrite | undefined }> {
  const writtenAt = round.now();
  let wrote = false;
  try {
    await client.set(HEARTBEAT_KEY, String(writtenAt));
    wrote = true;
    // Without the wait a healthy replica read a moment later could miss a write still in flight and be
    // reported a full probe interval behind.
    const replicas = Number(info.get('connected_slaves') ?? '0');
    if (replicas > 0) await client.sendCommand(['WAIT', String(replicas), String(ACK_WAIT_MS)]);
  } catch (error) {
    // After the deadline the probe was abandoned: nobody reads its warnings any more.
    if (!deadline.signal.aborted) {
      round.warn(
        `node ${node.nodeId}: heartbeat key not written (${errorMessage(error)}); the lag of its replicas ` +
          'is not measured this round',
      );
    }
  }
  const [current, selfFencing, dataset] = await Promise.all([
    replicationInfo(client),
    readSelfFencing(client),
    readDataset(client),
  ]);
  const observedAt = round.now();
  const replid = current.get('master_replid');
  const offset = current.get('master_repl_offset');
  const write =
    wrote && current.get('role') === 'master' && replid !== undefined && isDecimal(offset)
      ? { nodeId: node.nodeId, replid, offset: BigInt(offset), writtenAt }
      : undefined;
  const observation = observe(round, current, undefined, undefined);
  return {
    heartbeat: round.observed(
      node.nodeId,
      observation.role !== 'primary'
        ? observation
        : dataset === 'loading'
          ? // Its offset (a new id at 0) and a half-loaded count would look like a restart without its data.
            { role: 'primary', position: undefined, selfFencing }
          : { ...observation, selfFencing, datasetKeys: dataset },
      observedAt,
    ),
    write,
  };
}

/**
 * The data set's key count (the sum of `keys=` over the `dbN` lines of INFO keyspace) minus the probe's own
 * heartbeat key, read in one transaction so the key cannot appear between the two readings: after a restart
 * without persistence the count is 0 whether or not this round's write landed. `'loading'` while the server
 * is still loading its append-only file or snapshot (INFO persistence `loading:1`).
 * `undefined` when it cannot be read: best effort, never a probe failure.
 */
async function readDataset(client: RedisConnection): Promise<number | 'loading' | undefined> {
  try {
    const [persistence, keyspace, own] = await client
      .multi()
      .info('persistence')
      .info('keyspace')
      .exists(HEARTBEAT_KEY)
      .exec();
    if (parseRedisInfo(String(persistence)).get('loading') === '1') return 'loading';
    let keys = 0;
    for (const [name, value] of parseRedisInfo(String(keyspace))) {
      if (!/^db\d+$/.test(name)) continue;
      const count = /(?:^|,)keys=(\d+)(?:,|$)/.exec(value)?.[1];
      if (count === undefined) return undefined;
      keys += Number(count);
    }
    return Math.max(0, keys - Number(own ?? 0));
  } catch {
    // While loading, EXISTS is refused and the transaction with it; INFO alone still answers.
    try {
      return parseRedisInfo(String(await client.info('persistence'))).get('loading') === '1'
        ? 'loading'
        : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Whether the primary refuses writes when cut off from its replicas: `min-replicas-to-write` ≥ 1 (with
 * `min-replicas-max-lag` saying how stale an acknowledgement may be). `undefined` when CONFIG GET is not
 * allowed (managed services rename or forbid it): best effort, never a probe failure.
 */
async function readSelfFencing(client: RedisConnection): Promise<SelfFencing | undefined> {
  try {
    const config = (await client.configGet('min-replicas-*')) as Record<string, string | undefined>;
    const toWrite = config['min-replicas-to-write'];
    const maxLag = config['min-replicas-max-lag'];
    if (!isDecimal(toWrite)) return undefined;
    return {
      enabled: Number(toWrite) >= 1,
      detail: `min-replicas-to-write ${toWrite}, min-replicas-max-lag ${maxLag ?? '?'}`,
    };
  } catch {
    return undefined;
  }
}

/** A node's role and positions from its INFO replication; for a replica, its time-based lag. */
function observe(
  round: ProbeRound,
  info: Info,
  sourceWrite: HeartbeatWrite | undefined,
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
  // The write counts only if the replica still follows the node it was waited for.
  const write = sourceNodeId !== undefined && sourceWrite?.nodeId === sourceNodeId ? sourceWrite : undefined;
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
