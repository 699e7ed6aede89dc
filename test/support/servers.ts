/**
 * Real database servers for integration tests (docs/CONVENTIONS.md, "Real databases on 127.0.0.1"): each node on
 * a free loopback port, in its own temporary directory, run as a child process whose id we keep. Readiness
 * is polled, never slept for. `stop()` ends every process of a topology by its id and removes the
 * directories; whatever is still running when the Node process exits is killed then.
 *
 * Needs the Debian packages redis-server, postgresql (15) and mariadb-server. When this process runs as
 * root, PostgreSQL and MariaDB run as the `postgres` and `mysql` OS users (they refuse root).
 */
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { freePort } from '../../local/dynamodb-local';
import { type PrimaryReplicaPair, pgQuery, runToEnd, startPostgresPair } from '../../local/postgres-servers';
import { type RedisTopology, redisCommand, redisInfo, startRedisTopology } from '../../local/redis-servers';
import {
  findCommand,
  ProcessGroup as Group,
  LOOPBACK as HOST,
  type ManagedProcess as Managed,
  type RunAs,
  runAs,
  type ServerNode,
  waitFor,
} from '../../local/server-processes';

// Process management, the Redis and the PostgreSQL servers live in local/ (the demo and the benchmark use
// them too).
export {
  type PrimaryReplicaPair,
  pgQuery,
  type RedisTopology,
  redisCommand,
  redisInfo,
  type ServerNode,
  startPostgresPair,
  startRedisTopology,
  waitFor,
};

// ---------------------------------------------------------------------------------------------------
// Clients for assertions.

/** Runs one SQL statement on a MariaDB node (as root over TCP) and closes the connection. */
export async function mysqlQuery(node: ServerNode, sql: string): Promise<RowDataPacket[]> {
  const connection = await mysql.createConnection({ host: node.host, port: node.port, user: 'root' });
  connection.on('error', () => undefined);
  try {
    const [rows] = await connection.query<RowDataPacket[]>(sql);
    return rows;
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

// ---------------------------------------------------------------------------------------------------
// MariaDB.

async function startMariaDb(
  group: Group,
  nodeId: string,
  serverId: number,
  dir: string,
  owner: RunAs | undefined,
): Promise<[ServerNode, Managed]> {
  const dataDir = join(dir, nodeId);
  const tmp = join(dir, `${nodeId}-tmp`);
  mkdirSync(tmp);
  if (owner !== undefined) chownSync(tmp, owner.uid, owner.gid);
  await runToEnd(
    findCommand(['mariadb-install-db', 'mysql_install_db'], 'mariadb-server'),
    ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
    dir,
    owner,
    // Two bootstraps at once in a shared /tmp can clash on their temporary tables.
    { TMPDIR: tmp },
  );
  const port = await freePort();
  const managed = group.start(
    nodeId,
    findCommand(['mariadbd', 'mysqld'], 'mariadb-server'),
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      `--bind-address=${HOST}`,
      `--socket=${join(dir, `${nodeId}.sock`)}`,
      `--pid-file=${join(dir, `${nodeId}.pid`)}`,
      `--server-id=${serverId}`,
      `--tmpdir=${tmp}`,
      '--log-bin=mariadb-bin',
      '--relay-log=relay-bin',
      '--log-slave-updates',
      '--gtid-strict-mode=ON',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=0',
      '--sync-binlog=0',
    ],
    { dir, owner },
  );
  const node: ServerNode = {
    nodeId,
    host: HOST,
    port,
    endpoint: { nodeId, url: `mysql://root@${HOST}:${port}` },
    pid: managed.pid,
    dir,
  };
  await waitFor(
    `${nodeId} to accept connections`,
    async () => (await mysqlQuery(node, 'SELECT 1')).length === 1,
    {
      process: managed,
    },
  );
  return [node, managed];
}

/**
 * A MariaDB primary (`mariadb-1`) and one GTID replica (`mariadb-2`, MASTER_USE_GTID=slave_pos), both with
 * binary logs and log_slave_updates; resolves once both replication threads run.
 */
export async function startMariaDbPair(): Promise<PrimaryReplicaPair> {
  const owner = runAs('mysql');
  const group = new Group();
  const dir = group.dir('mariadb', owner);
  return group.starting(async () => {
    const [[primary], [replica, replicaProcess]] = await Promise.all([
      startMariaDb(group, 'mariadb-1', 1, dir, owner),
      startMariaDb(group, 'mariadb-2', 2, dir, owner),
    ]);
    await mysqlQuery(
      replica,
      `CHANGE MASTER TO MASTER_HOST='${HOST}', MASTER_PORT=${primary.port}, MASTER_USER='root', ` +
        "MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
    );
    await mysqlQuery(replica, 'START REPLICA');
    await waitFor(
      'mariadb-2 to replicate from mariadb-1',
      async () => {
        const [status] = await mysqlQuery(replica, 'SHOW REPLICA STATUS');
        return status?.Slave_IO_Running === 'Yes' && status.Slave_SQL_Running === 'Yes';
      },
      { process: replicaProcess },
    );
    return { primary, replica, ...group.topology() };
  });
}
