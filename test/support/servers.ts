/**
 * Real database servers for integration tests (TOOLCHAIN.md, "Real databases on 127.0.0.1"): each node on
 * a free loopback port, in its own temporary directory, run as a child process whose id we keep. Readiness
 * is polled, never slept for. `stop()` ends every process of a topology by its id and removes the
 * directories; whatever is still running when the Node process exits is killed then.
 *
 * Needs the Debian packages redis-server, postgresql (15) and mariadb-server. When this process runs as
 * root, PostgreSQL and MariaDB run as the `postgres` and `mysql` OS users (they refuse root).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import type { NodeEndpoint } from '../../functions/core/hooks';
import { freePort } from '../../local/dynamodb-local';

export interface ServerNode {
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  /** The hook endpoint: `redis://127.0.0.1:P`, `postgresql://postgres@127.0.0.1:P/postgres`, `mysql://root@127.0.0.1:P`. */
  readonly endpoint: NodeEndpoint;
  readonly pid: number;
  /** The node's temporary directory (data, socket, log). */
  readonly dir: string;
}

interface Topology {
  /** SIGKILLs one node (a crash: no shutdown, no cleanup) and waits until the process is gone. */
  kill(node: ServerNode): Promise<void>;
  /** Stops every node of the topology and removes its directories. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RedisTopology extends Topology {
  readonly primary: ServerNode;
  readonly replicas: readonly ServerNode[];
}

export interface PrimaryReplicaPair extends Topology {
  readonly primary: ServerNode;
  readonly replica: ServerNode;
}

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------------
// Processes: tracked by id, killed on exit.

interface Managed {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  readonly log: string;
  /** Signal of a clean and quick stop (PostgreSQL: SIGQUIT, immediate shutdown). */
  readonly stopSignal: NodeJS.Signals;
  /** Cleanup after the process is gone (PostgreSQL: its SysV segment when it was SIGKILLed). */
  readonly afterExit?: () => void;
}

const running = new Set<Managed>();
const directories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const managed of running) {
      try {
        process.kill(managed.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The OS user to run a server as when we are root (PostgreSQL and MariaDB refuse to run as root). */
function runAs(user: string): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function tempDir(prefix: string, owner: RunAs | undefined): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `replica-sentinel-${prefix}-`));
  directories.add(dir);
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: {
    dir: string;
    owner: RunAs | undefined;
    env?: Record<string, string>;
    stopSignal?: NodeJS.Signals;
    afterExit?: () => void;
  },
): Managed {
  const log = join(options.dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(command, args, {
    cwd: options.dir,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, HOME: options.dir, LC_ALL: 'C', ...options.env },
    ...(options.owner ?? {}),
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: ${command} did not start (is it installed?)`);
  const managed: Managed = {
    child,
    pid: child.pid,
    name,
    log,
    stopSignal: options.stopSignal ?? 'SIGTERM',
    ...(options.afterExit === undefined ? {} : { afterExit: options.afterExit }),
  };
  running.add(managed);
  child.once('exit', () => running.delete(managed));
  return managed;
}

function exited(managed: Managed): boolean {
  return managed.child.exitCode !== null || managed.child.signalCode !== null;
}

async function endProcess(managed: Managed, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (!exited(managed)) {
    const gone = new Promise<void>((resolve) => managed.child.once('exit', () => resolve()));
    managed.child.kill(signal);
    const timer = setTimeout(() => managed.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
  managed.afterExit?.();
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

/** Polls `probe` until it returns true; fails with the last error, and at once when `process` died. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; process?: Managed } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    if (options.process !== undefined && exited(options.process)) {
      const log = existsSync(options.process.log)
        ? readFileSync(options.process.log, 'utf8').slice(-2000)
        : '';
      throw new Error(`${options.process.name} exited while waiting for ${what}:\n${log}`);
    }
    try {
      if (await probe()) return;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/**
 * The processes and directories of one topology, registered the moment they exist so that a failure half
 * way through a start still stops everything started so far.
 */
class Group implements Topology {
  readonly #processes = new Map<number, Managed>();
  readonly #dirs = new Set<string>();
  #stopped = false;

  register(managed: Managed): Managed {
    this.#processes.set(managed.pid, managed);
    return managed;
  }

  dir(prefix: string, owner: RunAs | undefined): string {
    const dir = tempDir(prefix, owner);
    this.#dirs.add(dir);
    return dir;
  }

  async kill(node: ServerNode): Promise<void> {
    const managed = this.#processes.get(node.pid);
    if (managed === undefined) throw new Error(`Node ${node.nodeId} is not part of this topology`);
    await endProcess(managed, 'SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(
      [...this.#processes.values()].map((managed) => endProcess(managed, managed.stopSignal)),
    );
    for (const dir of this.#dirs) {
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    }
  }

  /** The Topology methods, bound, to spread into a result. */
  methods(): Topology {
    return { kill: (node) => this.kill(node), stop: () => this.stop() };
  }

  /** Runs `start`; when it fails, stops whatever it started and rethrows. */
  async starting<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Clients for assertions.

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
// Redis.

async function startRedis(
  group: Group,
  nodeId: string,
  replicaOf: ServerNode | undefined,
): Promise<[ServerNode, Managed]> {
  const dir = group.dir(nodeId, undefined);
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--repl-diskless-load',
    'on-empty-db',
    // The default 5 s wait for more replicas before a full sync would dominate the test time.
    '--repl-diskless-sync-delay',
    '0',
    '--daemonize',
    'no',
    '--dir',
    dir,
    ...(replicaOf === undefined ? [] : ['--replicaof', replicaOf.host, String(replicaOf.port)]),
  ];
  const managed = group.register(startProcess(nodeId, 'redis-server', args, { dir, owner: undefined }));
  const node: ServerNode = {
    nodeId,
    host: HOST,
    port,
    endpoint: { nodeId, url: `redis://${HOST}:${port}` },
    pid: managed.pid,
    dir,
  };
  await waitFor(`${nodeId} to answer PING`, async () => (await redisCommand(node, ['PING'])) === 'PONG', {
    process: managed,
  });
  return [node, managed];
}

/**
 * A Redis primary (`redis-1`) with `replicas` replicas (`redis-2`...), each linked
 * (`master_link_status:up`) before this resolves.
 */
export async function startRedisTopology(options: { replicas?: number } = {}): Promise<RedisTopology> {
  const group = new Group();
  return group.starting(async () => {
    const [primary] = await startRedis(group, 'redis-1', undefined);
    const replicas = await Promise.all(
      Array.from({ length: options.replicas ?? 2 }, async (_, i) => {
        const [replica, managed] = await startRedis(group, `redis-${i + 2}`, primary);
        await waitFor(
          `${replica.nodeId} to link to ${primary.nodeId}`,
          async () => (await redisInfo(replica)).get('master_link_status') === 'up',
          { process: managed },
        );
        return replica;
      }),
    );
    return { primary, replicas, ...group.methods() };
  });
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
  const managed = startProcess(
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
  group.register(managed);
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
    return { primary, replica, ...group.methods() };
  });
}

// ---------------------------------------------------------------------------------------------------
// MariaDB.

/** The first of `names` found in /usr/sbin, /usr/bin or PATH. */
function findCommand(names: readonly string[], debianPackage: string): string {
  for (const name of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(':')]) {
      if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  throw new Error(`None of ${names.join(', ')} found: install the Debian package ${debianPackage}.`);
}

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
  const managed = startProcess(
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
  group.register(managed);
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
    return { primary, replica, ...group.methods() };
  });
}
