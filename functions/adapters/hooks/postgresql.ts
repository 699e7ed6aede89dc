/**
 * Built-in hooks for PostgreSQL streaming replication (PostgreSQL 13 or later: primary_conninfo reloads
 * without a restart). Each connects with a short timeout, checks the node's state first so that running it
 * twice does no harm, and closes its connection. Without a user in the credentials, hooks log in as
 * `postgres`, to the URL's database or `postgres`.
 */
import type pg from 'pg';
import { HookFailedError, type HookRequest, type HookResult, type NodeEndpoint } from '../../core/hooks';
import { NotYetPrimaryError } from '../../core/runbook';
import { connectPostgres, POSTGRES_DEFAULT_USER } from './clients';
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

const DEFAULT_PORT = DEFAULT_PORTS.postgresql;
/** pg_promote waits this long for the promotion to finish. */
const PROMOTE_WAIT_SECONDS = 60;
const MIN_VERSION_NUM = 130000;

async function withPg<T>(
  node: HostPort,
  creds: DbCredentials | undefined,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connectPostgres(node, creds, { statementTimeoutMs: STATEMENT_TIMEOUT_MS });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The first row's only column. */
async function scalar<T>(client: pg.Client, sql: string, timeoutMs = STATEMENT_TIMEOUT_MS): Promise<T> {
  // pg reads a per-query query_timeout that its types do not declare.
  const query: pg.QueryConfig & { query_timeout: number } = { text: sql, query_timeout: timeoutMs };
  const result = await client.query<{ value: T }>(query);
  const row = result.rows[0];
  if (row === undefined) throw new HookFailedError(`${sql} returned no row.`);
  return row.value;
}

const inRecovery = (client: pg.Client) => scalar<boolean>(client, 'SELECT pg_is_in_recovery() AS value');
const setting = (client: pg.Client, name: string) =>
  scalar<string>(client, `SELECT current_setting(${client.escapeLiteral(name)}) AS value`);

async function reload(client: pg.Client): Promise<void> {
  await client.query('SELECT pg_reload_conf()');
}

// ---------------------------------------------------------------------------------------------------
// primary_conninfo: a libpq connection string `key=value key='quoted \' value'`.

/** Parses a libpq key/value connection string (the form primary_conninfo takes). */
export function parseConninfo(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']*))/gy;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const [, key = '', quoted, bare] = match;
    entries.set(key, quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1'));
  }
  return entries;
}

export function formatConninfo(entries: ReadonlyMap<string, string>): string {
  return [...entries].map(([key, value]) => `${key}='${value.replace(/[\\']/g, '\\$&')}'`).join(' ');
}

function pointsTo(conninfo: ReadonlyMap<string, string>, primary: HostPort): boolean {
  return (
    conninfo.get('host') === primary.host &&
    (conninfo.get('port') ?? String(DEFAULT_PORT)) === String(primary.port)
  );
}

// ---------------------------------------------------------------------------------------------------
// Actions.

async function promote(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  return withPg(node, creds, async (client) => {
    const steps: string[] = [];
    if (await inRecovery(client)) {
      const promoted = await scalar<boolean>(
        client,
        `SELECT pg_promote(true, ${PROMOTE_WAIT_SECONDS}) AS value`,
        STATEMENT_TIMEOUT_MS + PROMOTE_WAIT_SECONDS * 1000,
      );
      if (!promoted || (await inRecovery(client))) {
        throw new HookFailedError(
          `Promoting ${node.label}: pg_promote did not finish within ${PROMOTE_WAIT_SECONDS} s; the node is still in recovery.`,
        );
      }
      steps.push(`promoted with pg_promote(true, ${PROMOTE_WAIT_SECONDS}): pg_is_in_recovery() is now false`);
    } else {
      steps.push('already out of recovery: nothing to promote');
    }
    // A node fenced earlier (default_transaction_read_only on) would refuse writes as the new primary.
    if ((await setting(client, 'default_transaction_read_only')) === 'on') {
      await client.query('ALTER SYSTEM RESET default_transaction_read_only');
      await reload(client);
      steps.push('reset default_transaction_read_only (a fence left it on)');
    }
    const lsn = await scalar<string>(client, 'SELECT pg_current_wal_lsn()::text AS value');
    return { status: 'done', detail: `${node.label}: ${steps.join('; ')}; WAL at ${lsn}.` };
  });
}

async function requireStandby(client: pg.Client, node: HostPort, action: string): Promise<void> {
  if (!(await inRecovery(client))) {
    throw new HookFailedError(
      `Cannot ${action} ${node.label}: it is a primary, not a standby (an old primary needs pg_rewind or a ` +
        'rebuild before it can follow the new one).',
    );
  }
}

async function repoint(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  const primary = parseEndpoint('postgresql', requirePrimary(request), DEFAULT_PORT);
  return withPg(node, creds, async (client) => {
    await requireStandby(client, node, 'repoint');
    const version = Number(await setting(client, 'server_version_num'));
    if (version < MIN_VERSION_NUM) {
      throw new HookFailedError(
        `${node.label} runs PostgreSQL ${version}: before 13, primary_conninfo needs a restart, which the ` +
          'built-in hook does not do. Use a lambda, ssm or https hook.',
      );
    }
    const current = parseConninfo(await setting(client, 'primary_conninfo'));
    // A replica follows the promoted primary onto its new timeline only with recovery_target_timeline latest.
    const timeline = await setting(client, 'recovery_target_timeline');
    const timelineNote =
      timeline === 'latest'
        ? 'recovery_target_timeline is latest'
        : `WARNING: recovery_target_timeline is ${timeline}, not latest: the replica will not follow the new ` +
          'timeline until it is set to latest and the server restarted';
    if (pointsTo(current, primary)) {
      return {
        status: 'done',
        detail: `${node.label} already has primary_conninfo pointing to ${primary.label}; ${timelineNote}.`,
      };
    }
    // Keep the other keys (sslmode, passfile, application_name...) and change where to connect.
    const next = new Map(current);
    next.set('host', primary.host);
    next.set('port', String(primary.port));
    if (creds?.username !== undefined || !next.has('user'))
      next.set('user', creds?.username ?? POSTGRES_DEFAULT_USER);
    if (creds?.password !== undefined) next.set('password', creds.password);
    if (!next.has('application_name')) next.set('application_name', request.target.nodeId);
    await client.query(`ALTER SYSTEM SET primary_conninfo = ${client.escapeLiteral(formatConninfo(next))}`);
    await reload(client);
    const from = current.has('host')
      ? `${current.get('host')}:${current.get('port') ?? DEFAULT_PORT}`
      : 'nowhere';
    return {
      status: 'done',
      detail:
        `Repointed ${node.label} from ${from} to ${primary.label}: ALTER SYSTEM SET primary_conninfo and ` +
        `pg_reload_conf() (the WAL receiver reconnects); ${timelineNote}.`,
    };
  });
}

/** default_transaction_read_only on (ALTER SYSTEM + reload) and every other client session ended. */
async function stopClientWrites(client: pg.Client): Promise<string> {
  const wasOn = (await setting(client, 'default_transaction_read_only')) === 'on';
  if (!wasOn) {
    await client.query('ALTER SYSTEM SET default_transaction_read_only = on');
    await reload(client);
  }
  // Sessions already inside a read-write transaction keep writing until they end: end them.
  const terminated = await scalar<number>(
    client,
    "SELECT count(pg_terminate_backend(pid))::int AS value FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
  );
  return `default_transaction_read_only ${wasOn ? 'was already on' : 'set on with ALTER SYSTEM and reloaded'}, ${terminated} client session(s) terminated`;
}

async function fence(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  try {
    return await withPg(node, creds, async (client) => {
      if (await inRecovery(client)) {
        return {
          status: 'done',
          detail: `Old primary ${node.label} answers as a standby (in recovery): it accepts no writes (epoch ${request.epoch}).`,
        };
      }
      const done = await stopClientWrites(client);
      return {
        status: 'done',
        detail:
          `Fenced old primary ${node.label}: ${done} (epoch ${request.epoch}). A session can still SET ` +
          'transaction_read_only off: the epoch remains the fence of record.',
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
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  return withPg(node, creds, async (client) => {
    await requireStandby(client, node, 'restart replication on');
    const paused = await scalar<boolean>(client, 'SELECT pg_is_wal_replay_paused() AS value');
    if (paused) await client.query('SELECT pg_wal_replay_resume()');
    const receiver = await client.query<{ status: string; sender: string | null }>(
      "SELECT status, sender_host || ':' || sender_port AS sender FROM pg_stat_wal_receiver",
    );
    const wal = receiver.rows[0];
    const link =
      wal === undefined ? 'no WAL receiver running' : `WAL receiver ${wal.status} from ${wal.sender ?? '?'}`;
    return {
      status: 'done',
      detail: paused
        ? `Resumed WAL replay on ${node.label} with pg_wal_replay_resume() (it was paused); ${link}.`
        : `WAL replay on ${node.label} was not paused: nothing to resume; ${link}.`,
    };
  });
}

/** A planned switchover's first act: the primary stops taking writes (unreachable is an error here). */
async function stopWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  return withPg(node, creds, async (client) => {
    if (await inRecovery(client))
      throw new HookFailedError(
        `${node.label} is a standby (in recovery), not the primary: nothing to stop.`,
      );
    return { status: 'done', detail: `${node.label} takes no writes: ${await stopClientWrites(client)}.` };
  });
}

/** A called-off switchover: default_transaction_read_only back to its default (only on a primary). */
async function resumeWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
  const node = parseEndpoint('postgresql', request.target, DEFAULT_PORT);
  return withPg(node, creds, async (client) => {
    if (await inRecovery(client))
      return { status: 'done', detail: `${node.label} is a standby: it takes no writes, nothing to resume.` };
    await client.query('ALTER SYSTEM RESET default_transaction_read_only');
    await reload(client);
    return {
      status: 'done',
      detail: `${node.label} takes writes again: ALTER SYSTEM RESET default_transaction_read_only, reloaded.`,
    };
  });
}

const run = dispatchBuiltin(
  { promote, repoint, fence, restartReplication, stopWrites, resumeWrites },
  'PostgreSQL has no built-in rebuild hook: rebuilding a replica needs pg_basebackup on its host. ' +
    'Provide it with a lambda, ssm or https hook for rebuild.',
);

/**
 * The table verifyPrimary writes its one row to, in the endpoint's database and the login's first
 * schema on search_path. Created when absent (one CREATE privilege needed once; a DBA can create it
 * instead, then INSERT, UPDATE and SELECT on it are enough). The monitor owns no user table.
 */
export const VERIFY_TABLE = 'replica_sentinel_verify';

const CREATE_VERIFY_TABLE =
  `CREATE TABLE IF NOT EXISTS ${VERIFY_TABLE} (id int PRIMARY KEY CHECK (id = 1), token text NOT NULL, ` +
  'written_at timestamptz NOT NULL DEFAULT now())';

/**
 * A committed write read back: the row of {@link VERIFY_TABLE} set to `token`. Each statement commits on
 * its own, so the INSERT returns only once the commit is durable (and acknowledged by synchronous
 * standbys when synchronous_standby_names asks for them).
 */
async function writeRoundTrip(client: pg.Client, token: string): Promise<string> {
  const exists = await scalar<string | null>(client, `SELECT to_regclass('${VERIFY_TABLE}')::text AS value`);
  if (exists === null) {
    await client.query(CREATE_VERIFY_TABLE);
    await client.query(
      `COMMENT ON TABLE ${VERIFY_TABLE} IS 'replica-sentinel: one row rewritten by each failover verify to prove the new primary commits writes'`,
    );
  }
  await client.query(
    `INSERT INTO ${VERIFY_TABLE} (id, token) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, written_at = now()`,
    [token],
  );
  return scalar<string>(client, `SELECT token AS value FROM ${VERIFY_TABLE} WHERE id = 1`);
}

/**
 * Out of recovery, default_transaction_read_only off, and a write to {@link VERIFY_TABLE} committed and
 * read back within {@link VERIFY_WRITE_TIMEOUT_MS} (a commit waiting for an absent synchronous standby
 * times out here).
 */
async function verifyPrimary(endpoint: NodeEndpoint, creds: DbCredentials | undefined): Promise<void> {
  const node = parseEndpoint('postgresql', endpoint, DEFAULT_PORT);
  await withPg(node, creds, async (client) => {
    if (await inRecovery(client))
      throw new NotYetPrimaryError(`${node.label} is still in recovery (a standby).`);
    if ((await setting(client, 'default_transaction_read_only')) === 'on') {
      throw new NotYetPrimaryError(
        `${node.label} is out of recovery but default_transaction_read_only is on.`,
      );
    }
    const token = verifyToken();
    const echoed = await withDeadline(
      writeRoundTrip(client, token).catch((error: unknown) => {
        throw new NotYetPrimaryError(
          `${node.label} is out of recovery but refused a write to ${VERIFY_TABLE}: ${errorMessage(error)}`,
          { cause: error },
        );
      }),
      VERIFY_WRITE_TIMEOUT_MS,
      () =>
        new NotYetPrimaryError(
          `${node.label} is out of recovery but did not commit a write to ${VERIFY_TABLE} within ` +
            `${VERIFY_WRITE_TIMEOUT_MS} ms (waiting for a synchronous standby, a lock, or overloaded).`,
        ),
    );
    if (echoed !== token) {
      throw new NotYetPrimaryError(
        `${node.label} committed a write to ${VERIFY_TABLE} but read back another value.`,
      );
    }
  });
}

/** The LSN replayed on a standby (`pg_last_wal_replay_lsn()`), or the current WAL LSN on a primary. */
async function replicationProgress(
  endpoint: NodeEndpoint,
  creds: DbCredentials | undefined,
): Promise<string> {
  const node = parseEndpoint('postgresql', endpoint, DEFAULT_PORT);
  const lsn = await withPg(node, creds, (client) =>
    scalar<string | null>(
      client,
      'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS value',
    ),
  );
  if (lsn === null)
    throw new HookFailedError(`${node.label} has replayed no WAL yet (pg_last_wal_replay_lsn() is NULL).`);
  return lsn;
}

export const postgresqlHooks: BuiltinHooks = {
  engine: 'postgresql',
  run,
  verifyPrimary,
  replicationProgress,
};
