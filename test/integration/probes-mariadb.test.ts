import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ProbeTarget, probeCluster } from '../../functions/adapters/probes/index';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { parseHeartbeat } from '../../functions/core/wire';
import { freePort } from '../../local/dynamodb-local';
import { byNode, probeOptions, roundWhileFrozen } from '../support/probes';
import { mysqlQuery, type PrimaryReplicaPair, startMariaDbPair, waitFor } from '../support/servers';

const { options } = probeOptions();

function gtidOrder(a: string | undefined, b: string | undefined): number | undefined {
  return comparePositions(parsePosition('mariadb', a ?? ''), parsePosition('mariadb', b ?? ''));
}

async function variable(node: PrimaryReplicaPair['primary'], name: string): Promise<string> {
  const [row] = await mysqlQuery(node, `SELECT @@global.${name} AS value`);
  return String(row?.value ?? '');
}

describe('the MariaDB probe on a real GTID primary and replica', () => {
  let pair: PrimaryReplicaPair;
  let target: ProbeTarget;

  beforeAll(async () => {
    pair = await startMariaDbPair();
    target = {
      clusterId: 'orders-mariadb',
      engine: 'mariadb',
      nodes: [pair.primary.endpoint, pair.replica.endpoint],
    };
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('leaves out the position of a primary that has written nothing yet (an empty GTID position)', async () => {
    expect(await variable(pair.primary, 'gtid_binlog_pos')).toBe('');

    const heartbeats = await probeCluster(target, options);

    const primary = byNode(heartbeats, 'mariadb-1');
    expect(primary).toMatchObject({ role: 'primary', reachable: true });
    expect('position' in primary).toBe(false);
    expect(byNode(heartbeats, 'mariadb-2').replication).toEqual({
      sourceNodeId: 'mariadb-1',
      linkUp: true,
      lagSeconds: 0,
      paused: false,
    });
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });

  it('reports the primary at @@gtid_binlog_pos and the replica with Gtid_IO_Pos received, gtid_slave_pos applied and lag', async () => {
    await mysqlQuery(pair.primary, 'CREATE DATABASE shop');
    await mysqlQuery(pair.primary, 'CREATE TABLE shop.orders (id INT PRIMARY KEY)');
    await mysqlQuery(pair.primary, 'INSERT INTO shop.orders VALUES (1)');
    const head = await variable(pair.primary, 'gtid_binlog_pos');
    await waitFor(
      'mariadb-2 to apply the primary',
      async () => (await variable(pair.replica, 'gtid_slave_pos')) === head,
    );

    const heartbeats = await probeCluster(target, options);

    expect(byNode(heartbeats, 'mariadb-1')).toMatchObject({
      role: 'primary',
      reachable: true,
      position: head,
      selfFencing: { enabled: false, detail: 'rpl_semi_sync_master_enabled OFF' },
    });
    expect(byNode(heartbeats, 'mariadb-2').selfFencing).toBeUndefined();
    expect(byNode(heartbeats, 'mariadb-2')).toMatchObject({
      role: 'replica',
      reachable: true,
      replication: {
        sourceNodeId: 'mariadb-1',
        linkUp: true,
        receivedPosition: head,
        appliedPosition: head,
        lagSeconds: 0,
        paused: false,
      },
    });
    for (const hb of heartbeats) expect(parseHeartbeat(hb).engine).toBe('mariadb');
  });

  it('reports the primary self-fencing with semi-sync on, and the timeout after which it falls back', async () => {
    await mysqlQuery(pair.primary, 'SET GLOBAL rpl_semi_sync_master_enabled = ON');
    try {
      const heartbeats = await probeCluster(target, options);

      expect(byNode(heartbeats, 'mariadb-1').selfFencing).toEqual({
        enabled: true,
        detail:
          'rpl_semi_sync_master_enabled ON, falls back to asynchronous after rpl_semi_sync_master_timeout 10000 ms',
      });
    } finally {
      await mysqlQuery(pair.primary, 'SET GLOBAL rpl_semi_sync_master_enabled = OFF');
    }
  });

  it('after STOP SLAVE SQL_THREAD reports no lagSeconds (Seconds_Behind_Master NULL is not 0), paused, and received ahead of applied', async () => {
    await mysqlQuery(pair.replica, 'STOP SLAVE SQL_THREAD');
    try {
      await mysqlQuery(pair.primary, 'INSERT INTO shop.orders VALUES (2), (3)');
      const head = await variable(pair.primary, 'gtid_binlog_pos');
      await waitFor('mariadb-2 to receive what it does not apply', async () => {
        const [status] = await mysqlQuery(pair.replica, 'SHOW SLAVE STATUS');
        return status?.Gtid_IO_Pos === head;
      });
      const [status] = await mysqlQuery(pair.replica, 'SHOW SLAVE STATUS');
      expect(status?.Seconds_Behind_Master).toBeNull();

      const heartbeats = await probeCluster(target, options);

      const replica = byNode(heartbeats, 'mariadb-2');
      expect(replica.replication).toMatchObject({ linkUp: true, paused: true, receivedPosition: head });
      expect(replica.replication && 'lagSeconds' in replica.replication).toBe(false);
      expect(gtidOrder(replica.replication?.receivedPosition, replica.replication?.appliedPosition)).toBe(1);
      expect(gtidOrder(byNode(heartbeats, 'mariadb-1').position, replica.replication?.appliedPosition)).toBe(
        1,
      );
      expect(() => parseHeartbeat(replica)).not.toThrow();
    } finally {
      await mysqlQuery(pair.replica, 'START SLAVE SQL_THREAD');
    }
  });

  it('reports a frozen replica (SIGSTOP) unreachable at its deadline, and the primary on time', async () => {
    const deadlineMs = 1_500;
    const {
      result: heartbeats,
      startedAt,
      endedAt,
    } = await roundWhileFrozen(pair.replica, () => probeCluster(target, { ...options, deadlineMs }));

    // The deadline plus scheduling slack on a busy machine; the connect timeout alone would be 2.5 s.
    expect(endedAt - startedAt).toBeLessThan(deadlineMs + 1_000);
    expect(byNode(heartbeats, 'mariadb-2')).toMatchObject({ role: 'unknown', reachable: false });
    const primary = byNode(heartbeats, 'mariadb-1');
    expect(primary).toMatchObject({ role: 'primary', reachable: true });
    expect(Date.parse(primary.observedAt) - startedAt).toBeLessThan(deadlineMs);
    await waitFor('mariadb-2 to answer the probe again', async () => {
      const again = await probeCluster(target, options);
      return byNode(again, 'mariadb-2').role === 'replica';
    });
  });

  it('reports a node on a closed port as unreachable with role unknown, and still reports the others', async () => {
    const closed = { nodeId: 'mariadb-9', url: `mysql://root@127.0.0.1:${await freePort()}` };

    const heartbeats = await probeCluster({ ...target, nodes: [...target.nodes, closed] }, options);

    expect(heartbeats.map((hb) => [hb.nodeId, hb.role, hb.reachable])).toEqual([
      ['mariadb-1', 'primary', true],
      ['mariadb-2', 'replica', true],
      ['mariadb-9', 'unknown', false],
    ]);
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });
});
