/**
 * Built-in hooks for self-managed Redis (REPLICAOF replication). Each connects with a short timeout,
 * checks the node's state first so that running it twice does no harm, and closes its connection.
 * Replication from the new primary uses the node's own `masterauth`/`masteruser` settings.
 */
import { HookFailedError, type HookRequest, type HookResult, type NodeEndpoint } from '../../core/hooks';
import { NotYetPrimaryError } from '../../core/runbook';
import { SWITCHOVER_WRITE_PAUSE_SECONDS } from '../../core/switchover';
import { connectRedis, type RedisConnection } from './clients';
import {
  type BuiltinHooks,
  type DbCredentials,
  DEFAULT_PORTS,
  dispatchBuiltin,
  errorMessage,
  fencedByEpoch,
  type HostPort,
  NodeUnreachableError,
  parseEndpoint,
  requirePrimary,
  STATEMENT_TIMEOUT_MS,
  VERIFY_WRITE_TIMEOUT_MS,
  verifyToken,
  withDeadline,
} from './connection';

const DEFAULT_PORT = DEFAULT_PORTS.redis;

/** The replication section of INFO, as key → value. */
type ReplicationInfo = ReadonlyMap<string, string>;

async function withRedis<T>(
  node: HostPort,
  creds: DbCredentials | undefined,
  work: (client: RedisConnection) => Promise<T>,
): Promise<T> {
  const client = await connectRedis(node, creds, { statementTimeoutMs: STATEMENT_TIMEOUT_MS });
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

/** Parses `key:value` lines of an INFO reply. */
export function parseRedisInfo(text: string): ReplicationInfo {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

async function replicationInfo(client: RedisConnection): Promise<ReplicationInfo> {
  return parseRedisInfo(String(await client.info('replication')));
}

/** The first element of ROLE: `master`, `slave` or `sentinel`. */
async function role(client: RedisConnection): Promise<string> {
  const reply = await client.sendCommand<unknown>(['ROLE']);
  return Array.isArray(reply) ? String(reply[0]) : String(reply);
}

function followsPrimary(info: ReplicationInfo, primary: HostPort): boolean {
  return (
    info.get('role') === 'slave' &&
    info.get('master_host') === primary.host &&
    info.get('master_port') === String(primary.port)
  );
}

function describeRole(info: ReplicationInfo): string {
  if (info.get('role') === 'master') return `master with ${info.get('connected_slaves') ?? '?'} replica(s)`;
  return (
    `replica of ${info.get('master_host') ?? '?'}:${info.get('master_port') ?? '?'} ` +
    `(link ${info.get('master_link_status') ?? '?'})`
  );
}

async function replicaOf(client: RedisConnection, primary: HostPort): Promise<void> {
  await client.replicaOf(primary.host, primary.port);
}

async function promote(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  return withRedis(node, creds, async (client) => {
    const before = await replicationInfo(client);
    await client.sendCommand(['REPLICAOF', 'NO', 'ONE']);
    const now = await role(client);
    if (now !== 'master') {
      throw new HookFailedError(
        `Promoting ${node.label}: after REPLICAOF NO ONE, ROLE reports ${now}, not master.`,
      );
    }
    const after = await replicationInfo(client);
    const position = `replication id ${after.get('master_replid') ?? '?'}, offset ${after.get('master_repl_offset') ?? '?'}`;
    if (before.get('role') === 'master') {
      return {
        status: 'done',
        detail: `${node.label} is already a master (${position}): nothing to promote.`,
      };
    }
    return {
      status: 'done',
      detail: `Promoted ${node.label}, a ${describeRole(before)}, with REPLICAOF NO ONE; ROLE reports master (${position}).`,
    };
  });
}

/** Sets replica-read-only yes when it is not (a writable replica diverges); best effort where CONFIG is disabled. */
async function ensureReadOnlyReplica(client: RedisConnection): Promise<string> {
  try {
    const reply: unknown = await client.configGet('replica-read-only');
    const value =
      reply instanceof Map
        ? reply.get('replica-read-only')
        : (reply as Record<string, unknown>)['replica-read-only'];
    if (String(value) === 'yes') return 'replica-read-only is yes';
    await client.configSet('replica-read-only', 'yes');
    return `replica-read-only was ${String(value)}, set to yes`;
  } catch (error) {
    return `replica-read-only not checked (CONFIG failed: ${errorMessage(error)})`;
  }
}

async function repoint(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  const primary = parseEndpoint('redis', requirePrimary(request), DEFAULT_PORT);
  return withRedis(node, creds, async (client) => {
    const before = await replicationInfo(client);
    const readOnly = await ensureReadOnlyReplica(client);
    if (followsPrimary(before, primary)) {
      return {
        status: 'done',
        detail: `${node.label} already replicates from ${primary.label} (link ${before.get('master_link_status') ?? '?'}); ${readOnly}.`,
      };
    }
    await replicaOf(client, primary);
    return {
      status: 'done',
      detail: `Repointed ${node.label}, a ${describeRole(before)}, with REPLICAOF ${primary.host} ${primary.port}; ${readOnly}.`,
    };
  });
}

async function fence(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  try {
    return await withRedis(node, creds, async (client) => {
      const before = await replicationInfo(client);
      if (request.primary === undefined) {
        throw new HookFailedError(
          `Old primary ${node.label} answers and is ${describeRole(before)}, but the fence request names no ` +
            'new primary: a Redis master cannot be made read-only, only demoted with REPLICAOF <new primary>. ' +
            'The runbook must pass the candidate as request.primary.',
        );
      }
      const primary = parseEndpoint('redis', requirePrimary(request), DEFAULT_PORT);
      if (followsPrimary(before, primary)) {
        return {
          status: 'done',
          detail: `Old primary ${node.label} is already a replica of ${primary.label}: it refuses writes (epoch ${request.epoch}).`,
        };
      }
      await replicaOf(client, primary);
      const now = await role(client);
      if (now !== 'slave') {
        throw new HookFailedError(`Fencing ${node.label}: after REPLICAOF, ROLE reports ${now}, not slave.`);
      }
      return {
        status: 'done',
        detail:
          `Demoted old primary ${node.label}, a ${describeRole(before)}, with REPLICAOF ${primary.host} ` +
          `${primary.port}: it now refuses writes and resyncs from the new primary (epoch ${request.epoch}).`,
      };
    });
  } catch (error) {
    if (error instanceof NodeUnreachableError) return fencedByEpoch(request, node, error.reason);
    throw error;
  }
}

async function restartReplication(
  request: HookRequest,
  creds: DbCredentials | undefined,
): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  const primary =
    request.primary === undefined ? undefined : parseEndpoint('redis', requirePrimary(request), DEFAULT_PORT);
  return withRedis(node, creds, async (client) => {
    // A CLIENT PAUSE WRITE on a replica stalls the apply of the replication stream with the link up.
    await client.clientUnpause();
    const info = await replicationInfo(client);
    const steps = ['CLIENT UNPAUSE'];
    if (primary !== undefined && !followsPrimary(info, primary)) {
      await replicaOf(client, primary);
      steps.push(`REPLICAOF ${primary.host} ${primary.port} (it was a ${describeRole(info)})`);
    } else if (info.get('role') !== 'slave') {
      throw new HookFailedError(
        `${node.label} is a ${describeRole(info)}, not a replica, and the request names no primary to replicate from.`,
      );
    } else if (info.get('master_link_status') !== 'up') {
      // REPLICAOF with the same master is a no-op ("already connected"); dropping the master client
      // makes the replica reconnect and PSYNC at once instead of at its next retry.
      await client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'master']);
      steps.push('CLIENT KILL TYPE master (the link was down: reconnect now)');
    }
    return { status: 'done', detail: `Restarted replication on ${node.label}: ${steps.join(', then ')}.` };
  });
}

/**
 * A planned switchover's first act: the master stops taking writes with CLIENT PAUSE WRITE for
 * {@link SWITCHOVER_WRITE_PAUSE_SECONDS} (writes wait, reads go on; the pause also stops the master's pings,
 * so its offset holds still for the candidate to reach). The pause ends by itself if the runbook dies.
 */
async function stopWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  return withRedis(node, creds, async (client) => {
    const info = await replicationInfo(client);
    if (info.get('role') !== 'master')
      throw new HookFailedError(`${node.label} is a ${describeRole(info)}, not a master: nothing to stop.`);
    await client.sendCommand(['CLIENT', 'PAUSE', String(SWITCHOVER_WRITE_PAUSE_SECONDS * 1000), 'WRITE']);
    return {
      status: 'done',
      detail: `${node.label} takes no writes: CLIENT PAUSE ${SWITCHOVER_WRITE_PAUSE_SECONDS * 1000} WRITE (it ends by itself after ${SWITCHOVER_WRITE_PAUSE_SECONDS}s).`,
    };
  });
}

/** A called-off switchover: CLIENT UNPAUSE (a node that became a replica meanwhile refuses writes anyway). */
async function resumeWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('redis', request.target, DEFAULT_PORT);
  return withRedis(node, creds, async (client) => {
    await client.clientUnpause();
    const info = await replicationInfo(client);
    return { status: 'done', detail: `CLIENT UNPAUSE on ${node.label}, a ${describeRole(info)}.` };
  });
}

const run = dispatchBuiltin(
  { promote, repoint, fence, restartReplication, stopWrites, resumeWrites },
  'Redis has no built-in rebuild hook: a replica resyncs in full by itself after REPLICAOF. Configure a ' +
    'lambda, ssm or https hook for rebuild if the node must be replaced.',
);

/** The key verifyPrimary writes and reads back on a new primary (expires after an hour). */
export const VERIFY_KEY = 'replica-sentinel:verify';
const VERIFY_KEY_TTL_SECONDS = 3600;

/**
 * ROLE master, then SET {@link VERIFY_KEY} to a fresh value and GET it back within
 * {@link VERIFY_WRITE_TIMEOUT_MS}: a master under CLIENT PAUSE WRITE answers ROLE but holds the SET, and
 * a refused write (READONLY, NOREPLICAS from min-replicas-to-write, OOM, NOPERM) is no primary either.
 */
async function verifyPrimary(endpoint: NodeEndpoint, creds: DbCredentials | undefined): Promise<void> {
  const node = parseEndpoint('redis', endpoint, DEFAULT_PORT);
  await withRedis(node, creds, async (client) => {
    const now = await role(client);
    if (now !== 'master') throw new NotYetPrimaryError(`${node.label} reports role ${now}, not master.`);
    const token = verifyToken();
    const roundTrip = async () => {
      await client.sendCommand(['SET', VERIFY_KEY, token, 'EX', String(VERIFY_KEY_TTL_SECONDS)]);
      return client.sendCommand<unknown>(['GET', VERIFY_KEY]);
    };
    const echoed = await withDeadline(
      roundTrip().catch((error: unknown) => {
        throw new NotYetPrimaryError(
          `${node.label} reports master but refused a write (SET ${VERIFY_KEY}): ${errorMessage(error)}`,
          { cause: error },
        );
      }),
      VERIFY_WRITE_TIMEOUT_MS,
      () =>
        new NotYetPrimaryError(
          `${node.label} reports master but did not acknowledge a write (SET ${VERIFY_KEY}) within ` +
            `${VERIFY_WRITE_TIMEOUT_MS} ms: its writes are paused (CLIENT PAUSE WRITE) or it is overloaded.`,
        ),
    );
    if (String(echoed) !== token) {
      throw new NotYetPrimaryError(
        `${node.label} acknowledged SET ${VERIFY_KEY} but GET returned another value: something else writes that key.`,
      );
    }
  });
}

/** `<master_replid>:<offset>`: the master's own offset on a master, the applied offset on a replica. */
async function replicationProgress(
  endpoint: NodeEndpoint,
  creds: DbCredentials | undefined,
): Promise<string> {
  const node = parseEndpoint('redis', endpoint, DEFAULT_PORT);
  const info = await withRedis(node, creds, replicationInfo);
  const replid = info.get('master_replid');
  const offset =
    info.get('role') === 'master' ? info.get('master_repl_offset') : info.get('slave_repl_offset');
  if (replid === undefined || offset === undefined || !/^[0-9]+$/.test(offset)) {
    throw new HookFailedError(`${node.label} reports no replication offset (${describeRole(info)}).`);
  }
  return `${replid}:${offset}`;
}

export const redisHooks: BuiltinHooks = { engine: 'redis', run, verifyPrimary, replicationProgress };
