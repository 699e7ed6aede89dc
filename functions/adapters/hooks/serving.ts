/**
 * Asks a node, under a hard deadline, whether it serves writes right now: the precondition the Fence step
 * checks on the old primary itself just before a failover acts. The answer is evidence of one of:
 * - `writable` — it answers as a primary that takes writes: it is alive, the failover must not go on;
 * - `not-writable` — it answers as a replica, a standby, or a read-only server: already fenced;
 * - `not-serving` — its host refused the connection (nothing listens on the port): it cannot take writes now;
 * - `unknown` — no answer within the deadline (partition, frozen process), or it answered but would not let us
 *   in: it may still be taking writes from clients that reach it.
 */
import type { NodeEndpoint } from '../../core/hooks';
import type { Engine } from '../../core/position';
import { connectMysql, connectPostgres, connectRedis } from './clients';
import {
  type DbCredentials,
  DEFAULT_PORTS,
  errorMessage,
  type HostPort,
  NodeUnreachableError,
  parseEndpoint,
} from './connection';

export type ServingState = 'writable' | 'not-writable' | 'not-serving' | 'unknown';

export interface ServingAnswer {
  readonly state: ServingState;
  /** What the node answered, or why there was no answer, in one sentence. */
  readonly detail: string;
}

/** Longest the check waits for a node, whatever the drivers' own timeouts. */
export const SERVING_DEADLINE_MS = 4_000;

type Check = (node: HostPort, creds: DbCredentials | undefined) => Promise<ServingAnswer>;

const redis: Check = async (node, creds) => {
  const client = await connectRedis(node, creds, { statementTimeoutMs: SERVING_DEADLINE_MS });
  try {
    const reply = await client.sendCommand<unknown>(['ROLE']);
    const role = Array.isArray(reply) ? String(reply[0]) : String(reply);
    return role === 'master'
      ? { state: 'writable', detail: `${node.label} answers ROLE master` }
      : { state: 'not-writable', detail: `${node.label} answers ROLE ${role}` };
  } finally {
    client.destroy();
  }
};

const postgresql: Check = async (node, creds) => {
  const client = await connectPostgres(node, creds, { statementTimeoutMs: SERVING_DEADLINE_MS });
  try {
    const { rows } = await client.query<{ recovery: boolean; read_only: string }>(
      "SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') AS read_only",
    );
    const row = rows[0];
    if (row?.recovery) return { state: 'not-writable', detail: `${node.label} is a standby (in recovery)` };
    if (row?.read_only === 'on')
      return {
        state: 'not-writable',
        detail: `${node.label} is a primary with default_transaction_read_only on`,
      };
    return { state: 'writable', detail: `${node.label} is a primary out of recovery, read-write` };
  } finally {
    await client.end().catch(() => undefined);
  }
};

const mysql: Check = async (node, creds) => {
  const connection = await connectMysql(node, creds);
  try {
    const [rows] = await connection.query('SELECT @@global.read_only AS ro');
    const readOnly = Number((rows as { ro: unknown }[])[0]?.ro ?? 0) === 1;
    return readOnly
      ? { state: 'not-writable', detail: `${node.label} has read_only ON` }
      : { state: 'writable', detail: `${node.label} has read_only OFF` };
  } finally {
    connection.destroy();
  }
};

const CHECKS: Partial<Record<Engine, Check>> = { redis, postgresql, mysql, mariadb: mysql };

/** Whether the engine has a built-in serving check (others can only be fenced by a hook or the quorum). */
export const hasServingCheck = (engine: Engine): boolean => CHECKS[engine] !== undefined;

/**
 * Asks `endpoint` whether it serves writes, never waiting longer than `deadlineMs`. Never throws: every
 * failure is an answer (`not-serving` only for a refused connection, `unknown` for everything else).
 */
export async function servingState(
  engine: Engine,
  endpoint: NodeEndpoint,
  creds: DbCredentials | undefined,
  deadlineMs = SERVING_DEADLINE_MS,
): Promise<ServingAnswer> {
  const check = CHECKS[engine];
  if (check === undefined) return { state: 'unknown', detail: `no built-in check for ${engine} nodes` };
  let node: HostPort;
  try {
    node = parseEndpoint(engine, endpoint, DEFAULT_PORTS[engine as keyof typeof DEFAULT_PORTS] ?? 0);
  } catch (error) {
    return { state: 'unknown', detail: errorMessage(error) };
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ServingAnswer>((resolve) => {
    timer = setTimeout(
      () => resolve({ state: 'unknown', detail: `${node.label} gave no answer within ${deadlineMs} ms` }),
      deadlineMs,
    );
  });
  const answer = check(node, creds).catch((error: unknown): ServingAnswer => {
    if (error instanceof NodeUnreachableError && error.reason === 'ECONNREFUSED') {
      return {
        state: 'not-serving',
        detail: `${node.label} refused the connection: nothing listens on its port`,
      };
    }
    if (error instanceof NodeUnreachableError)
      return { state: 'unknown', detail: `${node.label} is unreachable (${error.reason})` };
    return {
      state: 'unknown',
      detail: `${node.label} answered but could not be checked: ${errorMessage(error)}`,
    };
  });
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
