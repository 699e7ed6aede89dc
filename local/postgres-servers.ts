/**
 * PostgreSQL servers on free loopback ports (docs/CONVENTIONS.md, "Real databases on 127.0.0.1"): a primary
 * and a streaming standby, each in its own temporary directory, run as the `postgres` OS user when we are
 * root, stopped by process id. The integration tests and the detection benchmark use them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './dynamodb-local';
import {
  findCommand,
  ProcessGroup as Group,
  LOOPBACK as HOST,
  isAlive,
  type ManagedProcess as Managed,
  type RunAs,
  runAs,
  type ServerNode,
  type Topology,
  waitFor,
} from './server-processes';

export interface PrimaryReplicaPair extends Topology {
  readonly primary: ServerNode;
  readonly replica: ServerNode;
}

/** Runs a command to completion (as `owner`), failing with its output. */
export function runToEnd(
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

/** The directory of initdb, postgres and pg_basebackup: the newest /usr/lib/postgresql/N/bin, else PATH. */
export function postgresBin(): string {
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
export function sysvSegmentRemover(dataDir: string): () => void {
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

/** The process ids whose parent is `pid` (read from /proc: Linux). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: the command may hold spaces and parentheses, the fields after the last ')' do not.
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * SIGKILLs a postmaster and every process it started (backends, WAL sender, checkpointer…), by id: the
 * server's host processes die at once, as in a crash of the machine. Resolves once the postmaster is gone.
 */
export async function killPostgresProcesses(postmasterPid: number): Promise<void> {
  const children = childrenOf(postmasterPid);
  for (const pid of [postmasterPid, ...children]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(`postmaster ${postmasterPid} to be gone`, async () => !isAlive(postmasterPid), {
    intervalMs: 10,
  });
}

/** The postmaster's process id from `<dataDir>/postmaster.pid`, while it runs. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/**
 * Whether the node is a writable primary: out of recovery, and a write commits (what a client of the
 * promoted standby needs).
 */
export async function pgWritable(node: Pick<ServerNode, 'host' | 'port'>): Promise<boolean> {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [row] = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows;
    if (row?.r !== false) return false;
    await client.query('CREATE TABLE IF NOT EXISTS replica_sentinel_bench (at timestamptz)');
    await client.query('INSERT INTO replica_sentinel_bench VALUES (now())');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
