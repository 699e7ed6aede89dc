import { describe, expect, it } from '@jest/globals';
import {
  expectFailedOver,
  expectStallRecovered,
  incidentRun,
  useE2e,
  waitForHealthyPrimary,
} from '../support/e2e';
import { mysqlQuery, type PrimaryReplicaPair, startMariaDbPair } from '../support/servers';

/**
 * The whole pipeline on a real MariaDB primary and GTID replica on 127.0.0.1, probed by `watch`, fed
 * through the local stack: a stopped SQL thread is a stall, a killed primary is failed over with the
 * built-in MySQL/MariaDB hooks, and the outcome is read back from the servers.
 */
describe('end to end on real MariaDB: stall and failover', () => {
  const fixture = useE2e(startMariaDbPair, async (mariadb) => {
    await mysqlQuery(mariadb.primary, 'CREATE DATABASE shop');
    await mysqlQuery(mariadb.primary, 'CREATE TABLE shop.orders (id int PRIMARY KEY)');
    return { clusterId: 'e2e-mariadb', engine: 'mariadb', nodes: [mariadb.primary, mariadb.replica] };
  });

  const count = async (node: PrimaryReplicaPair['primary']) => {
    const [row] = await mysqlQuery(node, 'SELECT count(*) AS n FROM shop.orders');
    return Number(row?.n);
  };

  it('reports a replica whose SQL thread is stopped as STALLED while the primary takes writes; the auto runbook restarts it', async () => {
    const { e2e, servers } = fixture;
    const { replica, primary } = servers;
    await e2e.waitForStatus(replica.nodeId, 'HEALTHY');
    await mysqlQuery(replica, 'STOP SLAVE SQL_THREAD');
    for (let i = 1; i <= 20; i++) await mysqlQuery(primary, `INSERT INTO shop.orders VALUES (${i})`);

    const stall = await incidentRun(e2e, replica.nodeId, 'STALLED');
    expectStallRecovered(stall, /has not advanced for .* \(replay is paused\)/);
    await e2e.waitForStatus(replica.nodeId, 'HEALTHY');
    // On the replica itself: both threads run again and the rows written meanwhile are there.
    const [status] = await mysqlQuery(replica, 'SHOW SLAVE STATUS');
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['Yes', 'Yes']);
    expect(await count(replica)).toBe(20);
  });

  it('declares the killed primary DEAD by the probe and the replica, and promotes the replica', async () => {
    const { e2e, servers } = fixture;
    const { replica, primary } = servers;
    await e2e.waitForStatus(replica.nodeId, 'HEALTHY');
    await servers.kill(primary);

    const failover = await incidentRun(e2e, primary.nodeId, 'DEAD');
    const promotedId = expectFailedOver(
      failover,
      /2\/2 views confirm: observer .*: cannot reach mariadb-1; replica mariadb-2: replication link down/,
    );
    expect(promotedId).toBe(replica.nodeId);

    // On the server: no replication left, writable, and it takes writes.
    expect(await mysqlQuery(replica, 'SHOW SLAVE STATUS')).toEqual([]);
    const [readOnly] = await mysqlQuery(replica, 'SELECT @@read_only AS ro');
    expect(Number(readOnly?.ro)).toBe(0);
    await mysqlQuery(replica, 'INSERT INTO shop.orders VALUES (1001)');
    expect(await count(replica)).toBe(21);
    await waitForHealthyPrimary(e2e, replica.nodeId);
  });
});
