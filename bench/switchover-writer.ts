/**
 * The client of `npm run bench -- switchover`, in a process of its own (forked by bench/switchover.ts, so
 * that its loop shares no event loop with our runbook runner, and every contender faces the same client):
 * writes keys (Redis `SET bench:<seq> 1`) or rows (PostgreSQL `INSERT`) 1, 2, 3… one at a time, as fast as
 * the server answers, to the node it found writable. On a refused or failed write (an error reply such as
 * READONLY, a read-only transaction, a dropped connection) it looks for the writable node again, asking
 * every node in turn (Redis `ROLE` master; PostgreSQL out of recovery and not read-only) on a connection it
 * keeps open to each node (as a client library's pool does), and goes on there.
 *
 * It records every write: when it was sent, and when it was acknowledged (and by which port) or failed. On
 * the message `stop` it finishes the write in flight, sends the record to its parent and exits.
 *
 * argv[2]: JSON `{ engine: 'redis' | 'postgresql', nodes: [{ host, port }], table?: string }`.
 */
import pg from 'pg';
import { createClient } from 'redis';

export interface WriterNode {
  readonly host: string;
  readonly port: number;
}

export interface WriterConfig {
  readonly engine: 'redis' | 'postgresql';
  readonly nodes: readonly WriterNode[];
  /** PostgreSQL: the table `(seq bigint primary key)` the rows go to. */
  readonly table?: string;
}

/** What the writer sends back: every write, in the order sent. */
export interface WriterRecord {
  /** [seq, sentAt, ackedAt, port] of each acknowledged write. */
  readonly acked: [number, number, number, number][];
  /** [seq, sentAt, failedAt] of each write that was not acknowledged. */
  readonly failed: [number, number, number][];
}

/** One connection to a node, kept open: the writer asks it whether it is writable and writes through it. */
interface Connection {
  writable(): Promise<boolean>;
  write(seq: number): Promise<void>;
  close(): void;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WriterConfig;
const acked: WriterRecord['acked'] = [];
const failed: WriterRecord['failed'] = [];
let running = true;
/** How long `stop` waits for the write in flight. */
const STOP_GRACE_MS = 30_000;
let seq = 0;

async function redisConnection(node: WriterNode): Promise<Connection> {
  const client = createClient({
    socket: { host: node.host, port: node.port, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  await client.connect();
  return {
    async writable() {
      const role = (await client.sendCommand(['ROLE'])) as unknown[];
      return role[0] === 'master';
    },
    async write(n) {
      const reply: unknown = await client.sendCommand(['SET', `bench:${n}`, '1']);
      if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
    },
    close: () => client.destroy(),
  };
}

async function postgresConnection(node: WriterNode): Promise<Connection> {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  await client.connect();
  const insert = `INSERT INTO ${config.table ?? 'bench_switchover'} (seq) VALUES ($1)`;
  return {
    async writable() {
      const { rows } = await client.query<{ recovery: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') AS ro",
      );
      return rows[0]?.recovery === false && rows[0]?.ro === 'off';
    },
    async write(n) {
      await client.query(insert, [n]);
    },
    close: () => void client.end().catch(() => undefined),
  };
}

const connect = config.engine === 'redis' ? redisConnection : postgresConnection;
/** The open connection of each node (by port); one that failed is closed and opened again when needed. */
const connections = new Map<number, Connection>();

async function connection(node: WriterNode): Promise<Connection> {
  const open = connections.get(node.port);
  if (open !== undefined) return open;
  const fresh = await connect(node);
  connections.set(node.port, fresh);
  return fresh;
}

function drop(node: WriterNode): void {
  connections.get(node.port)?.close();
  connections.delete(node.port);
}

/** Asks every node in turn on its kept connection; a connection that fails is dropped. */
async function findWritable(): Promise<WriterNode | undefined> {
  for (const node of config.nodes) {
    try {
      if (await (await connection(node)).writable()) return node;
    } catch {
      drop(node);
    }
  }
  return undefined;
}

async function run(): Promise<void> {
  while (running) {
    const target = await findWritable();
    if (target === undefined) continue; // every node asked, none writable: ask again at once
    const session = connections.get(target.port);
    if (session === undefined) continue;
    while (running) {
      const n = ++seq;
      const sentAt = Date.now();
      try {
        await session.write(n);
      } catch {
        failed.push([n, sentAt, Date.now()]);
        break;
      }
      acked.push([n, sentAt, Date.now(), target.port]);
    }
  }
  for (const node of config.nodes) drop(node);
}

const loop = run();
process.on('message', (message) => {
  if (message !== 'stop') return;
  running = false;
  // A write still held (a paused server that never answers) is neither acknowledged nor failed.
  const held = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
  void Promise.race([loop, held]).then(() => {
    const record: WriterRecord = { acked, failed };
    process.send?.(record, () => process.exit(0));
  });
});
process.send?.('ready');
