import { beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { ErrorReply } from 'redis';
import { cachedSecretValue } from '../../functions/adapters/hooks/aws';
import { NodeUnreachableError } from '../../functions/adapters/hooks/connection';
import { loadDriver } from '../../functions/adapters/hooks/drivers';
import { probeFrontends, refusalOf } from '../../functions/adapters/probes/index';
import { HookFailedError } from '../../functions/core/hooks';

const NODE = { host: '127.0.0.1', port: 6379, database: undefined, label: 'r1 (127.0.0.1:6379)' };

/** A pg DatabaseError as the driver builds it from the server's ErrorResponse. */
function pgError(message: string, code: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

/** A mysql2 server error: the server's errno and SQLSTATE on a plain Error. */
function mysqlError(errno: number, sqlState: string, sqlMessage: string): Error {
  return Object.assign(new Error(sqlMessage), { errno, sqlState, sqlMessage, code: 'ER', fatal: true });
}

/** A Node socket error (what the three drivers pass through when nothing answers). */
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), {
    code,
    errno: -111,
    syscall: 'connect',
  });
}

describe('refusalOf', () => {
  // A driver's errors come from its connections, which load it first (hooks/drivers.ts); so here.
  beforeAll(async () => {
    await loadDriver('pg');
    await loadDriver('redis');
  });

  it.each([
    [new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.'), 'authentication'],
    [new ErrorReply('NOAUTH Authentication required.'), 'authentication'],
    [new ErrorReply('ERR max number of clients reached'), 'too-many-connections'],
    [new ErrorReply('LOADING Redis is loading the dataset in memory'), 'server-error'],
    [pgError('password authentication failed for user "probe"', '28P01'), 'authentication'],
    [pgError('role "nobody" does not exist', '28000'), 'authentication'],
    [pgError('sorry, too many clients already', '53300'), 'too-many-connections'],
    [pgError('permission denied for function pg_current_wal_lsn', '42501'), 'server-error'],
    [
      mysqlError(1045, '28000', "Access denied for user 'root'@'localhost' (using password: YES)"),
      'authentication',
    ],
    [mysqlError(1044, '42000', "Access denied for user 'p'@'%' to database 'x'"), 'authentication'],
    [mysqlError(1040, '08004', 'Too many connections'), 'too-many-connections'],
    [mysqlError(1227, '42000', 'Access denied; you need the SUPER privilege'), 'server-error'],
  ])('calls %p a refusal of kind %s', (error, kind) => {
    expect(refusalOf(error)).toMatchObject({ kind });
  });

  it.each([
    ['ECONNREFUSED', socketError('ECONNREFUSED')],
    ['ETIMEDOUT', socketError('ETIMEDOUT')],
    ['EHOSTUNREACH', socketError('EHOSTUNREACH')],
    ['ENOTFOUND', socketError('ENOTFOUND')],
    ['a closed socket', new Error('Socket closed unexpectedly')],
    ['a pg connect timeout', new Error('timeout expired')],
    [
      'a mysql2 lost connection',
      Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST' }),
    ],
    ['not an error', 'boom'],
  ])('says %s could not reach the node', (_name, error) => {
    expect(refusalOf(error)).toBeUndefined();
  });

  it('reads the cause of a wrapped connect error, and trusts a failed TCP check over the driver', () => {
    const reply = new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.');

    const answered = new HookFailedError('Node r1 answers but the connection failed', { cause: reply });
    const unreachable = new NodeUnreachableError(NODE, 'ECONNREFUSED', { cause: reply });

    expect(refusalOf(answered)).toMatchObject({ kind: 'authentication' });
    expect(refusalOf(unreachable)).toBeUndefined();
  });
});

describe('probeFrontends when no frontend answers', () => {
  it('gives no heartbeat to a frontend that refused the login, and reachable:false to one that is down', async () => {
    const refused: string[] = [];
    const target = {
      clusterId: 'olap',
      engine: 'doris' as const,
      nodes: [
        { nodeId: 'fe1', url: 'mysql://127.0.0.1:9030' },
        { nodeId: 'fe2', url: 'mysql://127.0.0.2:9030' },
      ],
    };
    let seq = 0;

    const heartbeats = await probeFrontends(
      target,
      { observerId: 'p', now: () => 0, seq: () => ++seq, onRefused: (r) => refused.push(r.nodeId) },
      async (frontend) => {
        throw frontend.nodeId === 'fe1'
          ? mysqlError(1045, '28000', "Access denied for user 'root'")
          : socketError('ECONNREFUSED');
      },
    );

    expect(heartbeats.map((hb) => [hb.nodeId, hb.reachable])).toEqual([['fe2', false]]);
    expect(refused).toEqual(['fe1']);
  });
});

describe('cachedSecretValue.forget', () => {
  it('makes the next read ask again once, and keeps the re-read value even if it is refused too', async () => {
    let reads = 0;
    const secret = cachedSecretValue(async () => `v${++reads}`, { now: () => 0 });

    const first = await secret('arn');
    secret.forget('arn');
    const reread = await secret('arn');
    secret.forget('arn');
    const kept = await secret('arn');

    expect([first, reread, kept]).toEqual(['v1', 'v2', 'v2']);
    expect(reads).toBe(2);
  });
});
