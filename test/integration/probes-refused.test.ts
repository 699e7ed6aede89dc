/**
 * Review finding H2 on real servers: a server that answers with an error (a refused login, too many
 * connections) is alive, so the probe sends no heartbeat for it, never `reachable: false` (which would
 * confirm a primary dead); a closed port still gives `reachable: false`. The driver errors the classifier
 * is checked on are the ones these servers produce.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import {
  type NodeRefusal,
  type ProbeOptions,
  type ProbeTarget,
  probeCluster,
  refusalOf,
} from '../../functions/adapters/probes/index';
import type { NodeEndpoint } from '../../functions/core/hooks';
import { freePort } from '../../local/dynamodb-local';
import { probeOptions } from '../support/probes';
import {
  mysqlQuery,
  type PrimaryReplicaPair,
  pgQuery,
  type RedisTopology,
  redisCommand,
  type ServerNode,
  startMariaDbPair,
  startPostgresPair,
  startRedisTopology,
} from '../support/servers';

const PASSWORD = 'right-pass-7f3a';
const WRONG_PASSWORD = 'wrong-pass-91c2';

const { options: probe, warnings } = probeOptions();
const refusals: NodeRefusal[] = [];
const options: ProbeOptions = { ...probe, onRefused: (refusal) => refusals.push(refusal) };

beforeEach(() => {
  warnings.length = 0;
  refusals.length = 0;
});

/** The node's endpoint with `userinfo` (`user:password`) in its URL. */
function as(node: ServerNode, nodeId: string, userinfo: string): NodeEndpoint {
  const url = new URL(node.endpoint.url);
  const [user, password] = userinfo.split(':');
  url.username = user ?? '';
  url.password = password ?? '';
  return { nodeId, url: url.toString() };
}

async function closedNode(scheme: string): Promise<NodeEndpoint> {
  return { nodeId: 'closed', url: `${scheme}://127.0.0.1:${await freePort()}` };
}

/** What a driver call rejected with. */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (error: unknown) => error,
  );
}

/** Asserts: no heartbeat for `refused`, `reachable: false` for the closed port, one refusal of `kind`. */
async function expectRefused(
  target: ProbeTarget,
  refused: string,
  kind: NodeRefusal['kind'],
  reason: RegExp,
): Promise<void> {
  const heartbeats = await probeCluster(target, options);

  expect(heartbeats.map((hb) => [hb.nodeId, hb.reachable, hb.role])).toEqual([['closed', false, 'unknown']]);
  expect(refusals).toEqual([{ nodeId: refused, kind, reason: expect.stringMatching(reason) }]);
  expect(warnings.join('\n')).toContain(`node ${refused} answered but refused the probe (${kind})`);
  expect(warnings.join('\n')).not.toContain(WRONG_PASSWORD);
  expect(warnings.join('\n')).not.toContain(PASSWORD);
}

describe('a Redis node that refuses the probe', () => {
  let topology: RedisTopology;
  let node: ServerNode;
  let closed: NodeEndpoint;

  beforeAll(async () => {
    topology = await startRedisTopology({ replicas: 0, prefix: 'locked' });
    node = topology.primary;
    closed = await closedNode('redis');
    await redisCommand(node, ['CONFIG', 'SET', 'requirepass', PASSWORD]);
  });
  afterAll(async () => {
    await topology?.stop();
  });

  /** Runs `work` with a command sender logged in with the right password, over one connection. */
  async function withAdmin<T>(work: (send: (args: string[]) => Promise<unknown>) => Promise<T>): Promise<T> {
    const admin = createClient({ socket: { host: node.host, port: node.port }, password: PASSWORD });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      return await work((args) => admin.sendCommand(args));
    } finally {
      admin.destroy();
    }
  }

  it('is observed as a primary with the right password (the login is what the next tests change)', async () => {
    const heartbeats = await probeCluster(
      { clusterId: 'locked', engine: 'redis', nodes: [as(node, 'locked-1', `:${PASSWORD}`)] },
      options,
    );

    expect(heartbeats).toMatchObject([{ nodeId: 'locked-1', reachable: true, role: 'primary' }]);
    expect(refusals).toEqual([]);
  });

  it('gets no heartbeat on a wrong password (WRONGPASS), while a closed port is still reported unreachable', async () => {
    const target: ProbeTarget = {
      clusterId: 'locked',
      engine: 'redis',
      nodes: [as(node, 'locked-1', `:${WRONG_PASSWORD}`), closed],
    };

    await expectRefused(target, 'locked-1', 'authentication', /^WRONGPASS/);
  });

  it('gets no heartbeat when the probe has no password (NOAUTH)', async () => {
    const target: ProbeTarget = { clusterId: 'locked', engine: 'redis', nodes: [node.endpoint, closed] };

    await expectRefused(target, 'locked-1', 'authentication', /^NOAUTH/);
  });

  it('gets no heartbeat when the server has no client slot left (max number of clients reached)', async () => {
    await withAdmin(async (send) => {
      await send(['CONFIG', 'SET', 'maxclients', '1']);
      try {
        const target: ProbeTarget = {
          clusterId: 'locked',
          engine: 'redis',
          nodes: [as(node, 'locked-1', `:${PASSWORD}`), closed],
        };

        await expectRefused(target, 'locked-1', 'too-many-connections', /max number of clients reached/);
      } finally {
        await send(['CONFIG', 'SET', 'maxclients', '100']);
      }
    });
  });

  it('classifies the redis client errors: WRONGPASS is a refused login, ECONNREFUSED could not reach', async () => {
    const client = (port: number, password: string) => {
      const c = createClient({ socket: { host: node.host, port, reconnectStrategy: false }, password });
      c.on('error', () => undefined);
      return c;
    };
    const closedPort = Number(new URL(closed.url).port);

    const wrong = await rejection(() => client(node.port, WRONG_PASSWORD).connect());
    const refused = await rejection(() => client(closedPort, PASSWORD).connect());

    expect(refusalOf(wrong)).toEqual({ kind: 'authentication', reason: expect.stringMatching(/^WRONGPASS/) });
    expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(refusalOf(refused)).toBeUndefined();
  });
});

describe('a PostgreSQL node that refuses the probe', () => {
  let pair: PrimaryReplicaPair;
  let closed: NodeEndpoint;

  beforeAll(async () => {
    pair = await startPostgresPair();
    closed = await closedNode('postgresql');
    await pgQuery(pair.primary, 'CREATE ROLE capped LOGIN CONNECTION LIMIT 0');
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('gets no heartbeat for a login the server rejects (SQLSTATE 28000), while a closed port is unreachable', async () => {
    const target: ProbeTarget = {
      clusterId: 'orders-pg',
      engine: 'postgresql',
      nodes: [as(pair.primary, 'pg-1', `nobody:${WRONG_PASSWORD}`), closed],
    };

    await expectRefused(target, 'pg-1', 'authentication', /role "nobody" does not exist \(SQLSTATE 28000\)/);
  });

  it('gets no heartbeat when the role has no connection left (SQLSTATE 53300)', async () => {
    const target: ProbeTarget = {
      clusterId: 'orders-pg',
      engine: 'postgresql',
      nodes: [as(pair.primary, 'pg-1', 'capped'), closed],
    };

    await expectRefused(target, 'pg-1', 'too-many-connections', /too many connections .*SQLSTATE 53300/);
  });

  it('classifies the pg errors: a DatabaseError 28000 is a refused login, ECONNREFUSED could not reach', async () => {
    const connect = (port: number, user: string) =>
      new pg.Client({ host: pair.primary.host, port, user, database: 'postgres' }).connect();

    const wrong = await rejection(() => connect(pair.primary.port, 'nobody'));
    const refused = await rejection(async () => connect(Number(new URL(closed.url).port), 'postgres'));

    expect(wrong).toBeInstanceOf(pg.DatabaseError);
    expect(refusalOf(wrong)).toMatchObject({ kind: 'authentication' });
    expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(refusalOf(refused)).toBeUndefined();
  });
});

describe('a MariaDB node that refuses the probe', () => {
  let pair: PrimaryReplicaPair;
  let closed: NodeEndpoint;

  beforeAll(async () => {
    pair = await startMariaDbPair();
    closed = await closedNode('mysql');
    await mysqlQuery(pair.replica, "CREATE USER 'capped'@'127.0.0.1'");
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('gets no heartbeat on a wrong password (errno 1045), while a closed port is unreachable', async () => {
    const target: ProbeTarget = {
      clusterId: 'orders-mariadb',
      engine: 'mariadb',
      nodes: [as(pair.primary, 'mariadb-1', `root:${WRONG_PASSWORD}`), closed],
    };

    await expectRefused(target, 'mariadb-1', 'authentication', /Access denied for user 'root'.*errno 1045/);
  });

  it('gets no heartbeat for a login without the privilege to read the replication status (errno 1227)', async () => {
    const target: ProbeTarget = {
      clusterId: 'orders-mariadb',
      engine: 'mariadb',
      nodes: [as(pair.replica, 'mariadb-2', 'capped'), closed],
    };

    await expectRefused(target, 'mariadb-2', 'server-error', /SLAVE MONITOR privilege.*errno 1227/);
  });

  it('gets no heartbeat when the login has no connection left (MAX_USER_CONNECTIONS, errno 1226)', async () => {
    await mysqlQuery(pair.replica, "ALTER USER 'capped'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 1");
    const holder = await mysql.createConnection({
      host: pair.replica.host,
      port: pair.replica.port,
      user: 'capped',
    });
    try {
      const target: ProbeTarget = {
        clusterId: 'orders-mariadb',
        engine: 'mariadb',
        nodes: [as(pair.replica, 'mariadb-2', 'capped'), closed],
      };

      await expectRefused(target, 'mariadb-2', 'too-many-connections', /max_user_connections.*errno 1226/);
    } finally {
      await holder.end();
      await mysqlQuery(pair.replica, "ALTER USER 'capped'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 0");
    }
  });

  it('classifies the mysql2 errors: errno 1045 is a refused login, ECONNREFUSED could not reach', async () => {
    const connect = (port: number, password: string) =>
      mysql.createConnection({ host: pair.primary.host, port, user: 'root', password });

    const wrong = await rejection(() => connect(pair.primary.port, WRONG_PASSWORD));
    const refused = await rejection(() => connect(Number(new URL(closed.url).port), WRONG_PASSWORD));

    expect(wrong).toMatchObject({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' });
    expect(refusalOf(wrong)).toMatchObject({ kind: 'authentication' });
    expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(refusalOf(refused)).toBeUndefined();
  });
});
