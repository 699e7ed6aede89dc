/**
 * The client of `npm run bench -- switchover`, in a process of its own (forked by bench/switchover.ts, so
 * that its loop shares no event loop with our runbook runner, and every contender faces the same client):
 * writes keys (Redis `SET bench:<seq> 1`) or rows (PostgreSQL `INSERT`) 1, 2, 3… one at a time, as fast as
 * the server answers, to the node it found writable. On a refused or failed write (an error reply such as
 * READONLY, a read-only transaction, a dropped connection) it looks for the writable node again, asking
 * every node in turn (Redis `ROLE` master; PostgreSQL out of recovery and not read-only), and goes on there.
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

interface Session {
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

const redisWriter = {
  async writable(node: WriterNode): Promise<boolean> {
    const client = createClient({ socket: { host: node.host, port: node.port, reconnectStrategy: false } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const role = (await client.sendCommand(['ROLE'])) as unknown[];
      return role[0] === 'master';
    } finally {
      client.destroy();
    }
  },
  async open(node: WriterNode): Promise<Session> {
    const client = createClient({
      socket: { host: node.host, port: node.port, reconnectStrategy: false },
      disableOfflineQueue: true,
    });
    client.on('error', () => undefined);
    await client.connect();
    return {
      async write(n) {
        const reply: unknown = await client.sendCommand(['SET', `bench:${n}`, '1']);
        if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
      },
      close: () => client.destroy(),
    };
  },
};

const postgresWriter = {
  async connect(node: WriterNode): Promise<pg.Client> {
    const client = new pg.Client({
      host: node.host,
      port: node.port,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis: 2000,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  },
  async writable(node: WriterNode): Promise<boolean> {
    const client = await postgresWriter.connect(node);
    try {
      const { rows } = await client.query<{ recovery: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') AS ro",
      );
      return rows[0]?.recovery === false && rows[0]?.ro === 'off';
    } finally {
      await client.end().catch(() => undefined);
    }
  },
  async open(node: WriterNode): Promise<Session> {
    const client = await postgresWriter.connect(node);
    const text = `INSERT INTO ${config.table ?? 'bench_switchover'} (seq) VALUES ($1)`;
    return {
      async write(n) {
        await client.query(text, [n]);
      },
      close: () => void client.end().catch(() => undefined),
    };
  },
};

const driver = config.engine === 'redis' ? redisWriter : postgresWriter;

async function findWritable(): Promise<WriterNode | undefined> {
  for (const node of config.nodes) if (await driver.writable(node).catch(() => false)) return node;
  return undefined;
}

async function run(): Promise<void> {
  while (running) {
    const target = await findWritable();
    if (target === undefined) continue; // every node asked, none writable: ask again at once
    const session = await driver.open(target).catch(() => undefined);
    if (session === undefined) continue;
    try {
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
    } finally {
      session.close();
    }
  }
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
