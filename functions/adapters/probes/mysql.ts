/**
 * MySQL and MariaDB probe.
 *
 * Every node: `SHOW REPLICA STATUS` (`SHOW SLAVE STATUS` on servers that predate it) says whether it
 * replicates. A replica reports its source (Master_Host:Master_Port), the link (IO thread running), the
 * lag the server measures (Seconds_Behind_Master; NULL, e.g. with the SQL thread stopped, is left out:
 * it is not 0), paused (SQL thread stopped without an error: stopped on purpose) and its positions:
 * - MariaDB: received `Gtid_IO_Pos`, applied `@@gtid_slave_pos`;
 * - MySQL with GTIDs: applied `@@gtid_executed`, received that plus `Retrieved_Gtid_Set`;
 * - without GTIDs (MySQL gtid_mode OFF, MariaDB Using_Gtid No): binlog coordinates of the source,
 *   received `Master_Log_File:Read_Master_Log_Pos`, applied `Relay_Master_Log_File:Exec_Master_Log_Pos`.
 * A node without replication is a primary when it is writable (read_only OFF), with its semi-sync settings
 * as self-fencing and position
 * `@@gtid_binlog_pos` (MariaDB), `@@gtid_executed` (MySQL) or, without GTIDs, its binlog coordinate; an
 * empty GTID position is left out. A read-only node without replication (a fenced old primary) has role
 * unknown.
 *
 * The SQL dialect follows the server (`@@version` names MariaDB), the position format the cluster's engine.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { NodeEndpoint } from '../../core/hooks';
import type { HeartbeatInput } from '../../core/wire';
import { connectMysql } from '../hooks/clients';
import { type DbCredentials, parseEndpoint } from '../hooks/connection';
import {
  isDecimal,
  type Observation,
  type ProbeOptions,
  ProbeRound,
  type ProbeTarget,
  type SelfFencing,
  text,
} from './round';

const DEFAULT_PORT = 3306;

type Flavor = 'mysql' | 'mariadb';

/**
 * Opens a MySQL-protocol connection to a node (MySQL, MariaDB, Doris or StarRocks frontends), runs `work`
 * and closes it, all under the round's per-node deadline. Throws NodeUnreachableError when nothing
 * answers on the port, ProbeDeadlineError when the deadline passes first (the connection is destroyed).
 */
export function withMysqlProtocol<T>(
  round: ProbeRound,
  node: NodeEndpoint,
  defaultPort: number,
  work: (query: (sql: string) => Promise<RowDataPacket[]>) => Promise<T>,
): Promise<T> {
  return round.withinDeadline(async (deadline) => {
    const endpoint = parseEndpoint('mysql', node, defaultPort);
    const creds: DbCredentials | undefined = await round.credentials(node);
    const connection = await connectMysql(endpoint, creds, { signal: deadline.signal });
    try {
      return await work(async (sql) => {
        const [rows] = await connection.query<RowDataPacket[]>({ sql, timeout: round.deadlineMs });
        return rows;
      });
    } finally {
      if (deadline.signal.aborted) connection.destroy();
      else await connection.end().catch(() => connection.destroy());
    }
  });
}

/** A column of SHOW REPLICA STATUS under its MariaDB (`Master`, `Slave`) or MySQL 8.0.22+ (`Source`, `Replica`) name. */
function column(row: RowDataPacket, mariadbName: string): string | undefined {
  return text(row[mariadbName] ?? row[mariadbName.replace('Master', 'Source').replace('Slave', 'Replica')]);
}

async function replicaStatus(
  query: (sql: string) => Promise<RowDataPacket[]>,
): Promise<RowDataPacket | undefined> {
  let rows: RowDataPacket[];
  try {
    rows = await query('SHOW REPLICA STATUS');
  } catch (error) {
    // MySQL before 8.0.22 and MariaDB before 10.5 know only the old statement (ER_PARSE_ERROR).
    if ((error as { code?: unknown }).code !== 'ER_PARSE_ERROR') throw error;
    rows = await query('SHOW SLAVE STATUS');
  }
  const row = rows[0];
  // RESET REPLICA (without ALL) leaves a row with an empty host: no replication configured.
  return row === undefined || !column(row, 'Master_Host') ? undefined : row;
}

/** A GTID set or position as one line (MySQL prints gtid_executed with a newline after each comma). */
function gtid(value: unknown): string | undefined {
  const cleaned = text(value)?.replace(/\s+/g, '');
  return cleaned === undefined || cleaned === '' ? undefined : cleaned;
}

function binlog(file: string | undefined, pos: string | undefined): string | undefined {
  return file !== undefined && file !== '' && isDecimal(pos) ? `${file}:${pos}` : undefined;
}

async function observeNode(
  round: ProbeRound,
  node: NodeEndpoint,
): Promise<{ observation: Observation; observedAt: number }> {
  return withMysqlProtocol(round, node, DEFAULT_PORT, async (query) => {
    const [server] = await query('SELECT @@version AS version, @@global.read_only AS read_only');
    const flavor: Flavor = /mariadb/i.test(text(server?.version) ?? '') ? 'mariadb' : 'mysql';
    if (flavor !== round.target.engine) {
      round.warn(
        `node ${node.nodeId} runs ${flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} (${text(server?.version)}) in a ` +
          `cluster configured as ${round.target.engine}: its GTIDs will not fit the configured engine`,
      );
    }
    const status = await replicaStatus(query);
    const [vars] = await query(
      flavor === 'mariadb'
        ? "SELECT @@global.gtid_binlog_pos AS binlog_pos, @@global.gtid_slave_pos AS slave_pos, 'ON' AS gtid_mode"
        : 'SELECT @@global.gtid_executed AS binlog_pos, @@global.gtid_executed AS slave_pos, @@global.gtid_mode AS gtid_mode',
    );
    const gtidMode = text(vars?.gtid_mode) === 'ON';
    if (status === undefined) {
      if (Number(server?.read_only) === 1)
        return { observation: { role: 'unknown' }, observedAt: round.now() };
      let position = gtidMode ? gtid(vars?.binlog_pos) : undefined;
      if (!gtidMode) {
        const [log] = await binlogStatus(query, flavor);
        position = binlog(text(log?.File), text(log?.Position));
      }
      const selfFencing = await semiSync(query);
      return { observation: { role: 'primary', position, selfFencing }, observedAt: round.now() };
    }
    return { observation: observeReplica(round, flavor, status, vars, gtidMode), observedAt: round.now() };
  });
}

/**
 * A primary's semi-synchronous replication as self-fencing: enabled when `rpl_semi_sync_master_enabled`
 * (MariaDB, MySQL before 8.0.26) or `rpl_semi_sync_source_enabled` (MySQL 8.0.26+) is ON; false when
 * neither variable exists (the plugin is not loaded). The detail gives the timeout after which the server
 * falls back to asynchronous commits. `undefined` when the variables could not be read: best effort.
 */
async function semiSync(query: (sql: string) => Promise<RowDataPacket[]>): Promise<SelfFencing | undefined> {
  let rows: RowDataPacket[];
  try {
    rows = await query("SHOW GLOBAL VARIABLES LIKE 'rpl\\_semi\\_sync\\_%'");
  } catch {
    return undefined;
  }
  const vars = new Map(rows.map((row) => [text(row.Variable_name)?.toLowerCase(), text(row.Value)]));
  for (const role of ['source', 'master']) {
    const enabled = vars.get(`rpl_semi_sync_${role}_enabled`);
    if (enabled === undefined) continue;
    const on = enabled.toUpperCase() === 'ON' || enabled === '1';
    const timeout = vars.get(`rpl_semi_sync_${role}_timeout`);
    return {
      enabled: on,
      detail:
        `rpl_semi_sync_${role}_enabled ${enabled}` +
        (on && timeout !== undefined
          ? `, falls back to asynchronous after rpl_semi_sync_${role}_timeout ${timeout} ms`
          : ''),
    };
  }
  return { enabled: false, detail: 'semi-synchronous replication not available (plugin not loaded)' };
}

/** The binary log being written: SHOW BINARY LOG STATUS in MySQL 8.2+ (SHOW MASTER STATUS before, and in MariaDB). */
async function binlogStatus(
  query: (sql: string) => Promise<RowDataPacket[]>,
  flavor: Flavor,
): Promise<RowDataPacket[]> {
  if (flavor === 'mysql') {
    try {
      return await query('SHOW BINARY LOG STATUS');
    } catch {
      // MySQL before 8.2: fall through to the old statement.
    }
  }
  return query('SHOW MASTER STATUS');
}

function observeReplica(
  round: ProbeRound,
  flavor: Flavor,
  status: RowDataPacket,
  vars: RowDataPacket | undefined,
  gtidMode: boolean,
): Observation {
  const sqlRunning = column(status, 'Slave_SQL_Running') === 'Yes';
  const sqlErrno = Number(column(status, 'Last_SQL_Errno') ?? '0');
  const lag = column(status, 'Seconds_Behind_Master');
  const usesGtid = flavor === 'mariadb' ? column(status, 'Using_Gtid') !== 'No' : gtidMode;
  let receivedPosition: string | undefined;
  let appliedPosition: string | undefined;
  if (usesGtid && flavor === 'mariadb') {
    receivedPosition = gtid(column(status, 'Gtid_IO_Pos'));
    appliedPosition = gtid(vars?.slave_pos);
  } else if (usesGtid) {
    appliedPosition = gtid(vars?.slave_pos);
    // GTID sets merge on parsing: executed plus retrieved is everything received.
    const parts = [appliedPosition, gtid(column(status, 'Retrieved_Gtid_Set'))].filter(
      (part) => part !== undefined,
    );
    receivedPosition = parts.length === 0 ? undefined : parts.join(',');
  } else {
    receivedPosition = binlog(column(status, 'Master_Log_File'), column(status, 'Read_Master_Log_Pos'));
    appliedPosition = binlog(column(status, 'Relay_Master_Log_File'), column(status, 'Exec_Master_Log_Pos'));
  }
  return {
    role: 'replica',
    replication: {
      sourceNodeId: round.nodeIdAt(
        column(status, 'Master_Host'),
        Number(column(status, 'Master_Port')),
        'mysql',
        DEFAULT_PORT,
      ),
      linkUp: column(status, 'Slave_IO_Running') === 'Yes',
      receivedPosition,
      appliedPosition,
      // NULL means unknown (SQL or IO thread stopped), never 0.
      lagSeconds: isDecimal(lag) ? Number(lag) : undefined,
      paused: !sqlRunning && sqlErrno === 0,
    },
  };
}

/**
 * Probes MySQL or MariaDB nodes (the cluster's engine: `mysql` or `mariadb`). Never rejects: a node that
 * cannot be reached is reported `reachable: false`; one that answers with an error (1045, 1040...) gets no
 * heartbeat.
 */
export async function probeMysql(target: ProbeTarget, options: ProbeOptions): Promise<HeartbeatInput[]> {
  const round = new ProbeRound(target, options);
  const heartbeats = await Promise.all(
    target.nodes.map((node) =>
      round.guarded(node.nodeId, async () => {
        const { observation, observedAt } = await observeNode(round, node);
        return round.observed(node.nodeId, observation, observedAt);
      }),
    ),
  );
  return heartbeats.filter((heartbeat) => heartbeat !== undefined);
}
