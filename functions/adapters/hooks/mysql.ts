/**
 * Built-in hooks for MySQL (8.0.23 or later: the REPLICA/SOURCE statements, GTID auto-positioning) and
 * MariaDB (10.5 or later: `STOP REPLICA`, `SHOW REPLICA STATUS`; GTID replication with
 * `MASTER_USE_GTID=slave_pos`, so candidates need `log_slave_updates`). Each connects with a short timeout,
 * checks the node's state first so that running it twice does no harm, and closes its connection.
 *
 * The credentials log in to the node (as `root` when they name no user) and are also the replication
 * login given to CHANGE MASTER / CHANGE REPLICATION SOURCE when they carry a user.
 */
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { HookFailedError, type HookRequest, type HookResult, type NodeEndpoint } from '../../core/hooks';
import { NotYetPrimaryError } from '../../core/runbook';
import { connectMysql } from './clients';
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

type Flavor = 'mysql' | 'mariadb';

const DEFAULT_PORT = DEFAULT_PORTS.mysql;
/** How long promote waits for the SQL thread to apply the relay log it already received. */
const APPLY_RELAY_LOG_TIMEOUT_MS = 30_000;
const POLL_MS = 200;

async function withMysql<T>(
  node: HostPort,
  creds: DbCredentials | undefined,
  work: (connection: mysql.Connection) => Promise<T>,
): Promise<T> {
  const connection = await connectMysql(node, creds);
  try {
    return await work(connection);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

async function rows(
  connection: mysql.Connection,
  sql: string,
  values: unknown[] = [],
): Promise<RowDataPacket[]> {
  const [result] = await connection.query<RowDataPacket[]>({ sql, values, timeout: STATEMENT_TIMEOUT_MS });
  return result;
}

async function exec(connection: mysql.Connection, sql: string, values: unknown[] = []): Promise<void> {
  await connection.query({ sql, values, timeout: STATEMENT_TIMEOUT_MS });
}

/** A column of SHOW REPLICA STATUS under its MariaDB (`Master`) or MySQL 8.0.22+ (`Source`) name. */
function column(row: RowDataPacket, mariadbName: string): string | undefined {
  const value: unknown =
    row[mariadbName] ?? row[mariadbName.replace('Master', 'Source').replace('Slave', 'Replica')];
  return value === undefined || value === null ? undefined : String(value);
}

interface ReplicaStatus {
  readonly host: string | undefined;
  readonly port: string | undefined;
  readonly ioRunning: string;
  readonly sqlRunning: string;
  readonly readFile: string | undefined;
  readonly readPos: string | undefined;
  readonly execFile: string | undefined;
  readonly execPos: string | undefined;
  readonly lastError: string | undefined;
}

/** The replica's status, or `undefined` when no replication is configured. */
async function replicaStatus(connection: mysql.Connection): Promise<ReplicaStatus | undefined> {
  const [row] = await rows(connection, 'SHOW REPLICA STATUS');
  if (row === undefined) return undefined;
  const sqlError = column(row, 'Last_SQL_Error');
  const ioError = column(row, 'Last_IO_Error');
  return {
    host: column(row, 'Master_Host'),
    port: column(row, 'Master_Port'),
    ioRunning: column(row, 'Slave_IO_Running') ?? '?',
    sqlRunning: column(row, 'Slave_SQL_Running') ?? '?',
    readFile: column(row, 'Master_Log_File'),
    readPos: column(row, 'Read_Master_Log_Pos'),
    execFile: column(row, 'Relay_Master_Log_File'),
    execPos: column(row, 'Exec_Master_Log_Pos'),
    lastError: sqlError || ioError || undefined,
  };
}

function describeReplica(status: ReplicaStatus | undefined): string {
  if (status === undefined) return 'no replication configured';
  return (
    `replica of ${status.host ?? '?'}:${status.port ?? '?'} (IO ${status.ioRunning}, SQL ${status.sqlRunning}` +
    `${status.lastError ? `, last error: ${status.lastError}` : ''})`
  );
}

const applied = (status: ReplicaStatus) =>
  status.readFile === status.execFile && status.readPos === status.execPos;

/** Stops fetching and waits until the SQL thread applied what was fetched, so promote loses nothing received. */
async function applyRelayLog(connection: mysql.Connection, node: HostPort): Promise<void> {
  await exec(connection, 'STOP REPLICA IO_THREAD');
  const deadline = Date.now() + APPLY_RELAY_LOG_TIMEOUT_MS;
  for (;;) {
    const status = await replicaStatus(connection);
    if (status === undefined || applied(status)) return;
    if (status.sqlRunning !== 'Yes') {
      throw new HookFailedError(
        `Cannot promote ${node.label}: its SQL thread is stopped with relay log left to apply ` +
          `(${describeReplica(status)}). Fix the replica or choose another candidate.`,
      );
    }
    if (Date.now() > deadline) {
      throw new HookFailedError(
        `Cannot promote ${node.label}: the SQL thread did not apply the relay log in ${APPLY_RELAY_LOG_TIMEOUT_MS / 1000} s ` +
          `(executed ${status.execFile}:${status.execPos}, received ${status.readFile}:${status.readPos}).`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function readOnly(connection: mysql.Connection, flavor: Flavor): Promise<boolean> {
  const sql =
    flavor === 'mysql'
      ? 'SELECT @@global.read_only OR @@global.super_read_only AS value'
      : 'SELECT @@global.read_only AS value';
  const [row] = await rows(connection, sql);
  return Number(row?.value) === 1;
}

/** The binary log being written: SHOW BINARY LOG STATUS in MySQL 8.2+ (SHOW MASTER STATUS before, and in MariaDB). */
async function binlogStatus(connection: mysql.Connection, flavor: Flavor): Promise<RowDataPacket[]> {
  if (flavor === 'mysql') {
    try {
      return await rows(connection, 'SHOW BINARY LOG STATUS');
    } catch {
      // MySQL before 8.2: fall through to the old statement.
    }
  }
  return rows(connection, 'SHOW MASTER STATUS');
}

/**
 * The table verifyPrimary writes its one row to, in a database of its own (both created on first use,
 * so the monitor owns no user table; a DBA can create them instead, then INSERT, UPDATE and SELECT on
 * the table are enough).
 */
export const VERIFY_TABLE = 'replica_sentinel.verify';

const NO_SUCH_TABLE = new Set(['ER_NO_SUCH_TABLE', 'ER_BAD_DB_ERROR']);

/** Upserts the one row to `token` (autocommit: it returns once committed) and reads it back. */
async function writeRoundTrip(connection: mysql.Connection, token: string): Promise<string | undefined> {
  const upsert = () =>
    exec(
      connection,
      `INSERT INTO ${VERIFY_TABLE} (id, token) VALUES (1, ?) ON DUPLICATE KEY UPDATE token = ?, written_at = CURRENT_TIMESTAMP(6)`,
      [token, token],
    );
  try {
    await upsert();
  } catch (error) {
    if (!NO_SUCH_TABLE.has(String((error as { code?: unknown }).code))) throw error;
    await exec(connection, 'CREATE DATABASE IF NOT EXISTS replica_sentinel');
    await exec(
      connection,
      `CREATE TABLE IF NOT EXISTS ${VERIFY_TABLE} (id int PRIMARY KEY, token varchar(100) NOT NULL, ` +
        "written_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB COMMENT='replica-sentinel: one row rewritten by each failover verify'",
    );
    await upsert();
  }
  const [row] = await rows(connection, `SELECT token AS value FROM ${VERIFY_TABLE} WHERE id = 1`);
  return row === undefined ? undefined : String(row.value);
}

function hooksFor(flavor: Flavor): BuiltinHooks {
  const endpointOf = (endpoint: NodeEndpoint) => parseEndpoint(flavor, endpoint, DEFAULT_PORT);

  async function promote(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
    const node = endpointOf(request.target);
    return withMysql(node, creds, async (connection) => {
      const before = await replicaStatus(connection);
      const steps: string[] = [];
      if (before !== undefined) {
        await applyRelayLog(connection, node);
        await exec(connection, 'STOP REPLICA');
        await exec(connection, 'RESET REPLICA ALL');
        steps.push(
          `was a ${describeReplica(before)}: applied its relay log, STOP REPLICA, RESET REPLICA ALL`,
        );
      } else {
        steps.push('no replication configured');
      }
      if (await readOnly(connection, flavor)) {
        // In MySQL, read_only OFF also turns super_read_only off.
        await exec(connection, 'SET GLOBAL read_only = OFF');
        steps.push('SET GLOBAL read_only = OFF');
      } else {
        steps.push('read_only already OFF');
      }
      return { status: 'done', detail: `Promoted ${node.label}: ${steps.join('; ')}.` };
    });
  }

  async function repoint(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
    const node = endpointOf(request.target);
    const primary = endpointOf(requirePrimary(request));
    return withMysql(node, creds, async (connection) => {
      const before = await replicaStatus(connection);
      const steps: string[] = [];
      // A replica must not take writes of its own: they would diverge from the new primary.
      if (!(await readOnly(connection, flavor))) {
        await exec(
          connection,
          flavor === 'mysql' ? 'SET GLOBAL super_read_only = ON' : 'SET GLOBAL read_only = ON',
        );
        steps.push('set read_only ON');
      }
      const samePrimary = before?.host === primary.host && before.port === String(primary.port);
      if (samePrimary && before.ioRunning === 'Yes' && before.sqlRunning === 'Yes') {
        steps.unshift(`already replicates from ${primary.label} (IO Yes, SQL Yes)`);
        return { status: 'done', detail: `${node.label} ${steps.join('; ')}.` };
      }
      await exec(connection, 'STOP REPLICA');
      if (flavor === 'mariadb' && before === undefined) {
        // A former primary: its own transactions are in gtid_binlog_pos, not gtid_slave_pos. Replicating
        // from slave_pos without this would start from the beginning of the new primary's binlog.
        await exec(connection, 'SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos');
        steps.push('SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos (it was a primary)');
      }
      if (!samePrimary) {
        const login = creds?.username === undefined ? [] : [creds.username, creds.password ?? ''];
        const sql =
          flavor === 'mariadb'
            ? `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?${login.length ? ', MASTER_USER = ?, MASTER_PASSWORD = ?' : ''}, MASTER_USE_GTID = slave_pos`
            : `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?${login.length ? ', SOURCE_USER = ?, SOURCE_PASSWORD = ?' : ''}, SOURCE_AUTO_POSITION = 1`;
        await exec(connection, sql, [primary.host, primary.port, ...login]);
        steps.push(
          flavor === 'mariadb'
            ? `CHANGE MASTER TO ${primary.host}:${primary.port} with MASTER_USE_GTID=slave_pos`
            : `CHANGE REPLICATION SOURCE TO ${primary.host}:${primary.port} with SOURCE_AUTO_POSITION=1`,
        );
      }
      await exec(connection, 'START REPLICA');
      steps.push('START REPLICA');
      return {
        status: 'done',
        detail: `Repointed ${node.label} (was ${describeReplica(before)}) to ${primary.label}: ${steps.join('; ')}.`,
      };
    });
  }

  async function fence(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
    const node = endpointOf(request.target);
    const variable = flavor === 'mysql' ? 'super_read_only' : 'read_only';
    try {
      return await withMysql(node, creds, async (connection) => {
        if (await readOnly(connection, flavor)) {
          return {
            status: 'done',
            detail: `Old primary ${node.label} is already read-only (epoch ${request.epoch}).`,
          };
        }
        await exec(connection, `SET GLOBAL ${variable} = ON`);
        return {
          status: 'done',
          detail:
            `Fenced old primary ${node.label}: SET GLOBAL ${variable} = ON (epoch ${request.epoch}).` +
            (flavor === 'mariadb'
              ? ' Users with READ_ONLY ADMIN can still write: the epoch remains the fence of record.'
              : ''),
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
    const node = endpointOf(request.target);
    return withMysql(node, creds, async (connection) => {
      const before = await replicaStatus(connection);
      if (before === undefined) {
        throw new HookFailedError(
          `Cannot restart replication on ${node.label}: it has no replication configured.`,
        );
      }
      await exec(connection, 'STOP REPLICA');
      await exec(connection, 'START REPLICA');
      return {
        status: 'done',
        detail: `Restarted replication on ${node.label} (was ${describeReplica(before)}): STOP REPLICA; START REPLICA.`,
      };
    });
  }

  /**
   * A planned switchover's first act: read_only on (super_read_only on MySQL). Statements already running
   * finish first (the server waits for them); accounts with SUPER / READ_ONLY ADMIN still write through it.
   */
  async function stopWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
    const node = endpointOf(request.target);
    const variable = flavor === 'mysql' ? 'super_read_only' : 'read_only';
    return withMysql(node, creds, async (connection) => {
      if ((await replicaStatus(connection)) !== undefined)
        throw new HookFailedError(`${node.label} replicates from another server: it is not the primary.`);
      await exec(connection, `SET GLOBAL ${variable} = ON`);
      return { status: 'done', detail: `${node.label} takes no writes: SET GLOBAL ${variable} = ON.` };
    });
  }

  /** A called-off switchover: read_only off again, on a server that replicates from nobody. */
  async function resumeWrites(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult> {
    const node = endpointOf(request.target);
    return withMysql(node, creds, async (connection) => {
      if ((await replicaStatus(connection)) !== undefined)
        return { status: 'done', detail: `${node.label} is a replica now: it stays read-only.` };
      if (flavor === 'mysql') await exec(connection, 'SET GLOBAL super_read_only = OFF');
      await exec(connection, 'SET GLOBAL read_only = OFF');
      return { status: 'done', detail: `${node.label} takes writes again: read_only OFF.` };
    });
  }

  const run = dispatchBuiltin(
    { promote, repoint, fence, restartReplication, stopWrites, resumeWrites },
    `${flavor === 'mysql' ? 'MySQL' : 'MariaDB'} has no built-in rebuild hook: rebuilding a replica needs a ` +
      'clone or backup restore on its host. Provide it with a lambda, ssm or https hook for rebuild.',
  );

  /**
   * No replication thread running, read_only off (and super_read_only on MySQL), then a write to
   * {@link VERIFY_TABLE} committed and read back within {@link VERIFY_WRITE_TIMEOUT_MS}. The variables are
   * checked first because an account with SUPER (MySQL) or READ_ONLY ADMIN (MariaDB) writes through
   * read_only; the write proves commits complete (semi-sync waiting for an absent replica times out).
   */
  async function verifyPrimary(endpoint: NodeEndpoint, creds: DbCredentials | undefined): Promise<void> {
    const node = endpointOf(endpoint);
    await withMysql(node, creds, async (connection) => {
      const replica = await replicaStatus(connection);
      if (replica !== undefined && (replica.ioRunning === 'Yes' || replica.sqlRunning === 'Yes')) {
        throw new NotYetPrimaryError(`${node.label} is still a ${describeReplica(replica)}.`);
      }
      if (await readOnly(connection, flavor)) throw new NotYetPrimaryError(`${node.label} is read-only.`);
      const token = verifyToken();
      const echoed = await withDeadline(
        writeRoundTrip(connection, token).catch((error: unknown) => {
          throw new NotYetPrimaryError(
            `${node.label} is writable but refused a write to ${VERIFY_TABLE}: ${errorMessage(error)}`,
            { cause: error },
          );
        }),
        VERIFY_WRITE_TIMEOUT_MS,
        () =>
          new NotYetPrimaryError(
            `${node.label} did not commit a write to ${VERIFY_TABLE} within ${VERIFY_WRITE_TIMEOUT_MS} ms ` +
              '(waiting for a semi-synchronous replica, a lock, or overloaded).',
          ),
        () => connection.destroy(),
      );
      if (echoed !== token) {
        throw new NotYetPrimaryError(
          `${node.label} committed a write to ${VERIFY_TABLE} but read back another value.`,
        );
      }
    });
  }

  /**
   * MariaDB: `gtid_slave_pos` on a replica, `gtid_binlog_pos` on a primary. MySQL: `gtid_executed`. Without
   * GTIDs, the binlog coordinate executed (replica) or written (primary).
   */
  async function replicationProgress(
    endpoint: NodeEndpoint,
    creds: DbCredentials | undefined,
  ): Promise<string> {
    const node = endpointOf(endpoint);
    const position = await withMysql(node, creds, async (connection) => {
      const status = await replicaStatus(connection);
      const sql =
        flavor === 'mariadb'
          ? `SELECT ${status === undefined ? '@@gtid_binlog_pos' : '@@gtid_slave_pos'} AS value`
          : 'SELECT @@global.gtid_executed AS value';
      const [row] = await rows(connection, sql);
      const gtid = String(row?.value ?? '').replace(/\s+/g, '');
      if (gtid !== '') return gtid;
      if (status?.execFile !== undefined && status.execPos !== undefined)
        return `${status.execFile}:${status.execPos}`;
      const [binlog] = await binlogStatus(connection, flavor);
      return binlog === undefined ? undefined : `${String(binlog.File)}:${String(binlog.Position)}`;
    });
    if (position === undefined) {
      throw new HookFailedError(`${node.label} reports no position: no GTID executed and no binary log.`);
    }
    return position;
  }

  return { engine: flavor, run, verifyPrimary, replicationProgress };
}

export const mysqlHooks: BuiltinHooks = hooksFor('mysql');
export const mariadbHooks: BuiltinHooks = hooksFor('mariadb');
