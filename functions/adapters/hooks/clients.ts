/**
 * Opening a connection to a database node, shared by the built-in hooks and the probes: one place for
 * the drivers' timeouts, default users, credentials and the "was it reachable at all" classification
 * ({@link connectOrClassify}). The caller closes what it gets. Each driver is loaded on its first connection
 * (drivers.ts).
 */
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import type { RedisClientType } from 'redis';
import { CONNECT_TIMEOUT_MS, connectOrClassify, type DbCredentials, type HostPort } from './connection';
import { loadDriver } from './drivers';

export type RedisConnection = RedisClientType;

/** The user a PostgreSQL login falls back to without credentials. */
export const POSTGRES_DEFAULT_USER = 'postgres';

/** How long one statement may take, and how the connection names itself to the server. */
export interface ClientOptions {
  readonly statementTimeoutMs: number;
  /** PostgreSQL `application_name`. @default 'replica-sentinel' */
  readonly applicationName?: string;
  /**
   * Aborted when the caller gives up on the node (a probe's per-node deadline): the connection is destroyed
   * at once, while connecting or later, so that a frozen server holds no socket and no pending promise
   * past the deadline. The driver's own timeouts are idle timeouts and do not bound a whole exchange.
   */
  readonly signal?: AbortSignal;
}

/** Runs `destroy` when `signal` aborts (at once when it already has). */
function destroyOnAbort(signal: AbortSignal | undefined, destroy: () => void): void {
  if (signal === undefined) return;
  if (signal.aborted) destroy();
  else signal.addEventListener('abort', destroy, { once: true });
}

/** A connected Redis client (no reconnects, no offline queue). */
export function connectRedis(
  node: HostPort,
  creds: DbCredentials | undefined,
  options: ClientOptions,
): Promise<RedisConnection> {
  return connectOrClassify(node, async () => {
    const { createClient } = await loadDriver('redis');
    const client: RedisConnection = createClient({
      socket: {
        host: node.host,
        port: node.port,
        connectTimeout: CONNECT_TIMEOUT_MS,
        socketTimeout: options.statementTimeoutMs,
        reconnectStrategy: false,
      },
      disableOfflineQueue: true,
      username: creds?.username,
      password: creds?.password,
    });
    // Without a listener a socket error would be thrown as an uncaught 'error' event; commands reject anyway.
    client.on('error', () => undefined);
    destroyOnAbort(options.signal, () => client.destroy());
    await client.connect();
    return client;
  });
}

/** A connected PostgreSQL client (user `postgres` unless the credentials say otherwise). */
export function connectPostgres(
  node: HostPort,
  creds: DbCredentials | undefined,
  options: ClientOptions,
): Promise<pg.Client> {
  return connectOrClassify(node, async () => {
    const pgDriver = await loadDriver('pg');
    const client = new pgDriver.Client({
      host: node.host,
      port: node.port,
      user: creds?.username ?? POSTGRES_DEFAULT_USER,
      database: node.database ?? 'postgres',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: options.statementTimeoutMs,
      application_name: options.applicationName ?? 'replica-sentinel',
      password: creds?.password,
    });
    // A server that dies while connected emits 'error'; the pending query rejects on its own.
    client.on('error', () => undefined);
    // end() waits for the server to close its side, which a frozen server never does: cut the socket.
    destroyOnAbort(options.signal, () =>
      (client.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy(),
    );
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  });
}

/**
 * A connected MySQL/MariaDB connection (user `root` unless the credentials say otherwise). With `signal`,
 * an abort destroys it; one aborted while connecting is destroyed as soon as the connect settles (within
 * the connect timeout).
 */
export async function connectMysql(
  node: HostPort,
  creds: DbCredentials | undefined,
  options: { readonly signal?: AbortSignal } = {},
): Promise<mysql.Connection> {
  const mysqlDriver = await loadDriver('mysql');
  const connection = await connectOrClassify(node, () =>
    mysqlDriver.createConnection({
      host: node.host,
      port: node.port,
      user: creds?.username ?? 'root',
      connectTimeout: CONNECT_TIMEOUT_MS,
      password: creds?.password,
    }),
  );
  // A server that dies while connected emits 'error'; the pending query rejects on its own.
  connection.on('error', () => undefined);
  destroyOnAbort(options.signal, () => connection.destroy());
  return connection;
}
