import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mysql from 'mysql2/promise';
import {
  createHookRunner,
  localCredentials,
  replicationProgress,
  verifyPrimary,
} from '../../functions/adapters/hooks/index';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { NotYetPrimaryError } from '../../functions/core/runbook';
import { hookRequests } from '../support/hook-requests';
import {
  mysqlQuery,
  type PrimaryReplicaPair,
  type ServerNode,
  startMariaDbPair,
  waitFor,
} from '../support/servers';

const EPOCH = 5;
const hooks = createHookRunner({ credentials: localCredentials });

const request = hookRequests({
  clusterId: 'orders-mariadb',
  engine: 'mariadb',
  incidentId: 'incident-mariadb-1',
  epoch: EPOCH,
});

const progress = async (node: ServerNode) =>
  parsePosition('mariadb', await replicationProgress('mariadb', node.endpoint, undefined));

async function readOnly(node: ServerNode): Promise<number> {
  const [row] = await mysqlQuery(node, 'SELECT @@global.read_only AS value');
  return Number(row?.value);
}

describe('built-in MariaDB hooks on a real primary and GTID replica', () => {
  let pair: PrimaryReplicaPair;

  beforeAll(async () => {
    pair = await startMariaDbPair();
    await mysqlQuery(pair.primary, 'CREATE DATABASE shop');
    await mysqlQuery(pair.primary, 'CREATE TABLE shop.orders (id int PRIMARY KEY)');
    await mysqlQuery(pair.primary, 'INSERT INTO shop.orders VALUES (1)');
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('replicationProgress gives the replica gtid_slave_pos, which reaches the primary gtid_binlog_pos', async () => {
    const primaryAt = await progress(pair.primary);

    await waitFor('the replica to apply the primary position', async () => {
      return comparePositions(await progress(pair.replica), primaryAt) === 0;
    });
    expect(primaryAt.kind).toBe('mariadb-gtid');
    expect(primaryAt.raw).toMatch(/^0-1-\d+$/);
  });

  it('restartReplication restarts a stopped SQL thread', async () => {
    await mysqlQuery(pair.replica, 'STOP REPLICA SQL_THREAD');

    const result = await hooks.run(request('restartReplication', pair.replica, pair.primary), undefined);

    expect(result.detail).toMatch(
      /was replica of 127\.0\.0\.1:\d+ \(IO Yes, SQL No\)\): STOP REPLICA; START REPLICA/,
    );
    // START REPLICA returns while the IO thread is still connecting ('Preparing', 'Connecting').
    const threads = async () => {
      const [status] = await mysqlQuery(pair.replica, 'SHOW REPLICA STATUS');
      return [status?.Slave_IO_Running, status?.Slave_SQL_Running];
    };
    await waitFor('both replication threads to run', async () => (await threads()).every((t) => t === 'Yes'));
    expect(await threads()).toEqual(['Yes', 'Yes']);
  });

  it('verifyPrimary passes on the primary and throws NotYetPrimaryError on the replica', async () => {
    await expect(verifyPrimary('mariadb', pair.primary.endpoint, undefined)).resolves.toBeUndefined();
    await expect(verifyPrimary('mariadb', pair.replica.endpoint, undefined)).rejects.toThrow(
      NotYetPrimaryError,
    );
  });

  it('verifyPrimary commits a new token to replica_sentinel.verify (created on first use) each time, and it replicates', async () => {
    const token = async (node: ServerNode) =>
      (await mysqlQuery(node, 'SELECT token FROM replica_sentinel.verify')).map((r) => String(r.token));
    const first = await token(pair.primary);

    await verifyPrimary('mariadb', pair.primary.endpoint, undefined);
    const second = await token(pair.primary);

    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second).not.toEqual(first);
    await waitFor('the verify row to reach the replica', async () => {
      return JSON.stringify(await token(pair.replica)) === JSON.stringify(second);
    });
  });

  it('verifyPrimary rejects a primary with read_only=ON, and passes once it is OFF', async () => {
    await mysqlQuery(pair.primary, 'SET GLOBAL read_only = ON');
    try {
      await expect(verifyPrimary('mariadb', pair.primary.endpoint, undefined)).rejects.toThrow(
        /mariadb-1 \(127\.0\.0\.1:\d+\) is read-only/,
      );
    } finally {
      await mysqlQuery(pair.primary, 'SET GLOBAL read_only = OFF');
    }
    await expect(verifyPrimary('mariadb', pair.primary.endpoint, undefined)).resolves.toBeUndefined();
  });

  it('verifyPrimary rejects a primary whose writes are frozen (FLUSH TABLES WITH READ LOCK) within its deadline', async () => {
    const holder = await mysql.createConnection({
      host: pair.primary.host,
      port: pair.primary.port,
      user: 'root',
    });
    holder.on('error', () => undefined);
    try {
      await holder.query('FLUSH TABLES WITH READ LOCK');
      const error = await verifyPrimary('mariadb', pair.primary.endpoint, undefined).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(NotYetPrimaryError);
      expect((error as Error).message).toMatch(
        /did not commit a write to replica_sentinel\.verify within 3000 ms/,
      );
    } finally {
      await holder.query('UNLOCK TABLES').catch(() => undefined);
      await holder.end().catch(() => holder.destroy());
    }
    await expect(verifyPrimary('mariadb', pair.primary.endpoint, undefined)).resolves.toBeUndefined();
  });

  it('fences a live old primary with read_only ON, idempotently', async () => {
    const first = await hooks.run(request('fence', pair.primary, pair.replica), undefined);
    const second = await hooks.run(request('fence', pair.primary, pair.replica), undefined);

    expect(first.detail).toMatch(/Fenced old primary mariadb-1 .*SET GLOBAL read_only = ON \(epoch 5\)/);
    expect(second.detail).toMatch(/already read-only/);
    expect(await readOnly(pair.primary)).toBe(1);
    await expect(verifyPrimary('mariadb', pair.primary.endpoint, undefined)).rejects.toThrow(/read-only/);
  });

  it('promotes the replica: replication reset, read_only OFF, verifyPrimary passes; twice is harmless', async () => {
    await mysqlQuery(pair.replica, 'SET GLOBAL read_only = ON');

    const first = await hooks.run(request('promote', pair.replica), undefined);
    const second = await hooks.run(request('promote', pair.replica), undefined);

    expect(first.detail).toMatch(/STOP REPLICA, RESET REPLICA ALL; SET GLOBAL read_only = OFF/);
    expect(second.detail).toMatch(/no replication configured; read_only already OFF/);
    expect(await mysqlQuery(pair.replica, 'SHOW REPLICA STATUS')).toEqual([]);
    expect(await readOnly(pair.replica)).toBe(0);
    await expect(verifyPrimary('mariadb', pair.replica.endpoint, undefined)).resolves.toBeUndefined();
  });

  it('repoints the fenced old primary to the promoted one, and a write on the new primary reaches it', async () => {
    const result = await hooks.run(request('repoint', pair.primary, pair.replica), undefined);
    await mysqlQuery(pair.replica, 'INSERT INTO shop.orders VALUES (2)');

    expect(result.detail).toMatch(
      /gtid_slave_pos = @@gtid_binlog_pos .* MASTER_USE_GTID=slave_pos; START REPLICA/,
    );
    await waitFor('the old primary to apply the write', async () => {
      return (await mysqlQuery(pair.primary, 'SELECT id FROM shop.orders WHERE id = 2')).length === 1;
    });
    const [status] = await mysqlQuery(pair.primary, 'SHOW REPLICA STATUS');
    expect(status?.Last_SQL_Error).toBe('');
    expect(comparePositions(await progress(pair.primary), await progress(pair.replica))).toBe(0);
  });

  it('fences an unreachable old primary by the epoch', async () => {
    await pair.kill(pair.primary);

    const result = await hooks.run(request('fence', pair.primary, pair.replica), undefined);

    expect(result.detail).toMatch(/unreachable \(ECONNREFUSED\).*fenced by epoch 5/);
  });
});
