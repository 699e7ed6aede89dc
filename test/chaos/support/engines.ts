import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';

/** The engines the chaos suite runs on. */
export type ChaosEngine = 'redis' | 'postgresql' | 'mariadb';

/** Where a client reaches a server directly (never through a proxy: a client is not partitioned). */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** A client's session with one server, as the writer and the invariant checks use it. */
export interface Session {
  /** Writes the row/key of sequence number `seq`; resolves once the server acknowledged it. */
  write(seq: number): Promise<void>;
  close(): void;
}

/**
 * What the suite asks of an engine, on the servers themselves: write, read back, and whether a server is
 * a writable primary (Redis ROLE, PostgreSQL pg_is_in_recovery + transaction_read_only, MariaDB read_only).
 * Every call has a deadline: a frozen or partitioned server must make it fail, not hang.
 */
export interface EngineDriver {
  readonly engine: ChaosEngine;
  /** Opens a session for writes (creating what the writes need on a primary). */
  open(address: Address, timeoutMs: number): Promise<Session>;
  /** The sequence numbers among `seqs` present on the server. */
  present(address: Address, seqs: readonly number[]): Promise<Set<number>>;
  /** True when the server answers as a primary that accepts writes; false when a replica or read-only. */
  writable(address: Address): Promise<boolean>;
}

/** Rejects after `ms` with a message naming `what` (and runs `onTimeout`, to drop the connection). */
export function withDeadline<T>(
  what: string,
  ms: number,
  work: Promise<T>,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

const QUERY_TIMEOUT_MS = 2_000;
const KEY = (seq: number) => `chaos:w:${seq}`;

async function redisClient(address: Address, timeoutMs: number) {
  const client = createClient({
    socket: { host: address.host, port: address.port, connectTimeout: timeoutMs, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  await withDeadline(`connect to ${address.port}`, timeoutMs, client.connect(), () => client.destroy());
  return client;
}

const redis: EngineDriver = {
  engine: 'redis',
  async open(address, timeoutMs) {
    const client = await redisClient(address, timeoutMs);
    return {
      async write(seq) {
        const reply = await withDeadline(
          `SET on ${address.port}`,
          timeoutMs,
          client.sendCommand<string>(['SET', KEY(seq), String(Date.now())]),
          () => client.destroy(),
        );
        if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
      },
      close: () => client.destroy(),
    };
  },
  async present(address, seqs) {
    const client = await redisClient(address, QUERY_TIMEOUT_MS);
    try {
      const found = new Set<number>();
      for (let i = 0; i < seqs.length; i += 500) {
        const chunk = seqs.slice(i, i + 500);
        const values = await withDeadline(
          'MGET',
          QUERY_TIMEOUT_MS,
          client.sendCommand<(string | null)[]>(['MGET', ...chunk.map(KEY)]),
        );
        chunk.forEach((seq, j) => {
          if (values[j] !== null && values[j] !== undefined) found.add(seq);
        });
      }
      return found;
    } finally {
      client.destroy();
    }
  },
  async writable(address) {
    const client = await redisClient(address, QUERY_TIMEOUT_MS);
    try {
      const role = await withDeadline('ROLE', QUERY_TIMEOUT_MS, client.sendCommand<unknown[]>(['ROLE']));
      return role[0] === 'master';
    } finally {
      client.destroy();
    }
  },
};

async function pgClient(address: Address, timeoutMs: number): Promise<pg.Client> {
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const postgresql: EngineDriver = {
  engine: 'postgresql',
  async open(address, timeoutMs) {
    const client = await pgClient(address, timeoutMs);
    await client.query(
      'CREATE TABLE IF NOT EXISTS chaos_writes (seq bigint PRIMARY KEY, at bigint NOT NULL)',
    );
    return {
      async write(seq) {
        await client.query('INSERT INTO chaos_writes (seq, at) VALUES ($1, $2)', [seq, Date.now()]);
      },
      close: () => void client.end().catch(() => undefined),
    };
  },
  async present(address, seqs) {
    const client = await pgClient(address, QUERY_TIMEOUT_MS);
    try {
      const exists = await client.query("SELECT to_regclass('chaos_writes') IS NOT NULL AS ok");
      if (exists.rows[0]?.ok !== true) return new Set();
      const { rows } = await client.query<{ seq: string }>(
        'SELECT seq FROM chaos_writes WHERE seq = ANY($1::bigint[])',
        [seqs],
      );
      return new Set(rows.map((r) => Number(r.seq)));
    } finally {
      await client.end().catch(() => undefined);
    }
  },
  async writable(address) {
    const client = await pgClient(address, QUERY_TIMEOUT_MS);
    try {
      const { rows } = await client.query<{ recovery: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') AS ro",
      );
      return rows[0]?.recovery === false && rows[0]?.ro !== 'on';
    } finally {
      await client.end().catch(() => undefined);
    }
  },
};

async function mysqlConnection(address: Address, timeoutMs: number) {
  const connection = await mysql.createConnection({
    host: address.host,
    port: address.port,
    user: 'root',
    connectTimeout: timeoutMs,
  });
  connection.on('error', () => undefined);
  return connection;
}

const mariadb: EngineDriver = {
  engine: 'mariadb',
  async open(address, timeoutMs) {
    const connection = await mysqlConnection(address, timeoutMs);
    await connection.query({ sql: 'CREATE DATABASE IF NOT EXISTS chaos', timeout: timeoutMs });
    await connection.query({
      sql: 'CREATE TABLE IF NOT EXISTS chaos.writes (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL)',
      timeout: timeoutMs,
    });
    return {
      async write(seq) {
        await connection.query({
          sql: 'INSERT INTO chaos.writes (seq, at) VALUES (?, ?)',
          values: [seq, Date.now()],
          timeout: timeoutMs,
        });
      },
      close: () => connection.destroy(),
    };
  },
  async present(address, seqs) {
    const connection = await mysqlConnection(address, QUERY_TIMEOUT_MS);
    try {
      const [tables] = await connection.query<mysql.RowDataPacket[]>(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'chaos' AND table_name = 'writes'",
      );
      if (tables.length === 0 || seqs.length === 0) return new Set();
      const [rows] = await connection.query<mysql.RowDataPacket[]>({
        sql: 'SELECT seq FROM chaos.writes WHERE seq IN (?)',
        values: [seqs],
        timeout: QUERY_TIMEOUT_MS,
      });
      return new Set(rows.map((r) => Number(r.seq)));
    } finally {
      connection.destroy();
    }
  },
  async writable(address) {
    const connection = await mysqlConnection(address, QUERY_TIMEOUT_MS);
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>({
        sql: 'SELECT @@global.read_only AS ro',
        timeout: QUERY_TIMEOUT_MS,
      });
      // A MariaDB replica is not read-only unless told so: a node that replicates is not a primary.
      const [replication] = await connection.query<mysql.RowDataPacket[]>({
        sql: 'SHOW REPLICA STATUS',
        timeout: QUERY_TIMEOUT_MS,
      });
      const replicating = replication.some(
        (r) => r.Slave_IO_Running === 'Yes' || r.Slave_SQL_Running === 'Yes',
      );
      return Number(rows[0]?.ro) === 0 && !replicating;
    } finally {
      connection.destroy();
    }
  },
};

export const DRIVERS: Readonly<Record<ChaosEngine, EngineDriver>> = { redis, postgresql, mariadb };
