/**
 * Telling "the server answered but refused us" from "we could not reach it" (review finding H2).
 *
 * A probe that reports a node `reachable: false` confirms, for a primary, that it is dead (core/silence.ts
 * counts the view toward the DEAD quorum). A server that sent an error reply is alive: a rotated password,
 * a connection storm or a missing privilege must never help fail it over. So a probe error is a refusal
 * when the driver says the server replied with an error:
 * - Redis (node-redis 6): an `ErrorReply` (`WRONGPASS ...`, `NOAUTH ...`, `ERR max number of clients
 *   reached`, `LOADING ...`);
 * - PostgreSQL (pg): a `DatabaseError`, carrying the server's SQLSTATE (`28P01`, `28000`, `53300`, ...);
 * - MySQL / MariaDB (mysql2): an error with the server's `sqlState` and numeric `errno` (1045, 1044, 1040,
 *   1226).
 * Everything else (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND, a closed socket, a connect or
 * statement timeout, a {@link NodeUnreachableError}) means the node could not be reached.
 *
 * The driver classes are read from the drivers already loaded (hooks/drivers.ts): an error of a driver
 * that was never loaded cannot have come from a connection, and reading it loads nothing (issue 14).
 */
import { NodeUnreachableError } from '../hooks/connection';
import { loadedDriver } from '../hooks/drivers';

/** Why a server that answered refused the probe. `authentication`: the login was refused. */
export type RefusalKind = 'authentication' | 'too-many-connections' | 'server-error';

/** A server's refusal, as read from a driver error. `reason` is the server's message (never a password). */
export interface Refusal {
  readonly kind: RefusalKind;
  readonly reason: string;
}

/** PostgreSQL SQLSTATEs: invalid_password, invalid_authorization_specification. */
const PG_AUTH = new Set(['28P01', '28000']);
/** PostgreSQL SQLSTATE too_many_connections. */
const PG_TOO_MANY = new Set(['53300']);
/** MySQL/MariaDB errnos: access denied (user, database, no password given). */
const MYSQL_AUTH = new Set([1044, 1045, 1698]);
/** MySQL/MariaDB errnos: too many connections (server-wide, per user). */
const MYSQL_TOO_MANY = new Set([1040, 1203]);
/** MySQL/MariaDB errno of an account's resource limit; a connection limit when its message names one. */
const MYSQL_USER_LIMIT = 1226;
const MYSQL_CONNECTION_LIMIT = /max_user_connections|max_connections_per_hour/;

/** Redis error replies start with an upper-case code: the login ones are WRONGPASS and NOAUTH. */
const REDIS_AUTH = /^(WRONGPASS|NOAUTH)\b|^ERR invalid password/;
const REDIS_TOO_MANY = /max number of clients reached/i;

/**
 * The server's refusal that `error` (or an error in its `cause` chain) carries, or `undefined` when the
 * server could not be reached, or did not answer with an error (then the probe reports it unreachable).
 *
 * @example
 * const refusal = refusalOf(error);
 * if (refusal === undefined) return round.unreachable(nodeId, errorMessage(error));
 */
export function refusalOf(error: unknown): Refusal | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    // The TCP check found nothing listening: whatever the driver said, nobody answered.
    if (e instanceof NodeUnreachableError) return undefined;
    const refusal = driverRefusal(e);
    if (refusal !== undefined) return refusal;
  }
  return undefined;
}

function driverRefusal(e: Error): Refusal | undefined {
  const redis = loadedDriver('redis');
  if (redis !== undefined && e instanceof redis.ErrorReply) {
    if (REDIS_AUTH.test(e.message)) return { kind: 'authentication', reason: e.message };
    if (REDIS_TOO_MANY.test(e.message)) return { kind: 'too-many-connections', reason: e.message };
    return { kind: 'server-error', reason: e.message };
  }
  const pg = loadedDriver('pg');
  if (pg !== undefined && e instanceof pg.DatabaseError) {
    const reason = `${e.message} (SQLSTATE ${e.code ?? '?'})`;
    if (PG_AUTH.has(e.code ?? '')) return { kind: 'authentication', reason };
    if (PG_TOO_MANY.has(e.code ?? '')) return { kind: 'too-many-connections', reason };
    return { kind: 'server-error', reason };
  }
  const mysql = mysqlServerError(e);
  if (mysql !== undefined) {
    const reason = `${mysql.sqlMessage ?? e.message} (errno ${mysql.errno})`;
    if (MYSQL_AUTH.has(mysql.errno)) return { kind: 'authentication', reason };
    const connectionLimit = mysql.errno === MYSQL_USER_LIMIT && MYSQL_CONNECTION_LIMIT.test(reason);
    if (MYSQL_TOO_MANY.has(mysql.errno) || connectionLimit) return { kind: 'too-many-connections', reason };
    return { kind: 'server-error', reason };
  }
  return undefined;
}

/**
 * mysql2 has no error class: a server's error packet becomes an Error with the server's positive `errno`
 * and its 5-character `sqlState`; a socket error keeps Node's negative errno and has no sqlState.
 */
function mysqlServerError(e: Error): { errno: number; sqlMessage: string | undefined } | undefined {
  const fields = e as Error & { errno?: unknown; sqlState?: unknown; sqlMessage?: unknown };
  if (typeof fields.errno !== 'number' || fields.errno <= 0) return undefined;
  if (typeof fields.sqlState !== 'string' || fields.sqlState.length !== 5) return undefined;
  return {
    errno: fields.errno,
    sqlMessage: typeof fields.sqlMessage === 'string' ? fields.sqlMessage : undefined,
  };
}
