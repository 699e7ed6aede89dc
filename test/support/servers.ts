/**
 * Real database servers for integration tests (docs/CONVENTIONS.md, "Real databases on 127.0.0.1"): each node on
 * a free loopback port, in its own temporary directory, run as a child process whose id we keep. Readiness
 * is polled, never slept for. `stop()` ends every process of a topology by its id and removes the
 * directories; whatever is still running when the Node process exits is killed then.
 *
 * Needs the Debian packages redis-server, postgresql (15) and mariadb-server. When this process runs as
 * root, PostgreSQL and MariaDB run as the `postgres` and `mysql` OS users (they refuse root).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { freePort } from '../../local/dynamodb-local';
import { type RedisTopology, redisCommand, redisInfo, startRedisTopology } from '../../local/redis-servers';
import {
  findCommand,
  ProcessGroup as Group,
  LOOPBACK as HOST,
  type ManagedProcess as Managed,
  type RunAs,
  runAs,
  type ServerNode,
  type Topology,
  waitFor,
} from '../../local/server-processes';

// Process management and the Redis servers live in local/ (the demo and the benchmark use them too).
export { type RedisTopology, redisCommand, redisInfo, type ServerNode, startRedisTopology, waitFor };

export interface PrimaryReplicaPair extends Topology {
  readonly primary: ServerNode;
  readonly replica: ServerNode;
}

/** Runs a command to completion (as `owner`), failing with its output. */
function runToEnd(
  command: string,
  args: readonly string[],
  dir: string,
  owner: RunAs | undefined,
  env: Record<string, string> = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: dir, LC_ALL: 'C', ...env },
      ...(owner ?? {}),
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------
// Clients for assertions.

/** Runs one SQL statement on a PostgreSQL node (as postgres) and closes the connection. */
export async function pgQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  node: ServerNode,
  sql: string,
): Promise<R[]> {
  const client = new pg.Client({ host: node.host, port: node.port, user: 'postgres', database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

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
// PostgreSQL.

/** The directory of initdb, postgres and pg_basebackup: the newest /usr/lib/postgresql/N/bin, else PATH. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => existsSync(join(root, entry, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest !== undefined) return join(root, newest, 'bin');
  const initdb = findCommand(['initdb'], 'postgresql');
  return initdb.slice(0, initdb.lastIndexOf('/'));
}

/**
 * The SysV interlock segment of a postmaster (line 7 of postmaster.pid: key and id). A SIGKILLed
 * postmaster leaves it behind; remove it once the process is gone.
 */
function sysvSegmentRemover(dataDir: string): () => void {
  return () => {
    const pidFile = join(dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const shmid = readFileSync(pidFile, 'utf8').split('\n')[6]?.trim().split(/\s+/)[1];
    if (shmid === undefined || !/^[0-9]+$/.test(shmid)) return;
    try {
      execFileSync('ipcrm', ['-m', shmid], { stdio: 'ignore' });
    } catch {
      // removed already, or still attached by an exiting backend: harmless
    }
  };
}

async function startPostgres(
  group: Group,
  bin: string,
  nodeId: string,
  dir: string,
  owner: RunAs | undefined,
): Promise<[ServerNode, Managed]> {
  const dataDir = join(dir, nodeId);
  const port = await freePort();
  const managed = group.start(
    nodeId,
    join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-c',
      `port=${port}`,
      '-c',
      `listen_addresses=${HOST}`,
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'wal_level=replica',
      '-c',
      'hot_standby=on',
      '-c',
      'max_wal_senders=5',
      '-c',
      'fsync=off',
      '-c',
      'shared_buffers=16MB',
    ],
    { dir, owner, stopSignal: 'SIGQUIT', afterExit: sysvSegmentRemover(dataDir) },
  );
  const node: ServerNode = {
    nodeId,
    host: HOST,
    port,
    endpoint: { nodeId, url: `postgresql://postgres@${HOST}:${port}/postgres` },
    pid: managed.pid,
    dir,
  };
  await waitFor(
    `${nodeId} to accept connections`,
    async () => (await pgQuery(node, 'SELECT 1')).length === 1,
    {
      process: managed,
    },
  );
  return [node, managed];
}

/**
 * A PostgreSQL primary (`pg-1`) and one streaming replica (`pg-2`, from pg_basebackup -R), with trust
 * authentication on loopback; resolves once pg_stat_replication shows the replica streaming.
 */
export async function startPostgresPair(): Promise<PrimaryReplicaPair> {
  const bin = postgresBin();
  const owner = runAs('postgres');
  const group = new Group();
  const dir = group.dir('pg', owner);
  return group.starting(async () => {
    await runToEnd(
      join(bin, 'initdb'),
      [
        '-D',
        join(dir, 'pg-1'),
        '-U',
        'postgres',
        '--auth=trust',
        '--no-sync',
        '-E',
        'UTF8',
        '--no-instructions',
      ],
      dir,
      owner,
    );
    const [primary] = await startPostgres(group, bin, 'pg-1', dir, owner);
    await runToEnd(
      join(bin, 'pg_basebackup'),
      ['-R', '-h', HOST, '-p', String(primary.port), '-U', 'postgres', '-D', join(dir, 'pg-2')].concat([
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
      ]),
      dir,
      owner,
    );
    const [replica, replicaProcess] = await startPostgres(group, bin, 'pg-2', dir, owner);
    await waitFor(
      'pg-2 to stream from pg-1',
      async () =>
        (await pgQuery(primary, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")).length === 1,
      { process: replicaProcess },
    );
    return { primary, replica, ...group.topology() };
  });
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
