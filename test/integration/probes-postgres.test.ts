import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ProbeTarget, probeCluster } from '../../functions/adapters/probes/index';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { type HeartbeatInput, parseHeartbeat } from '../../functions/core/wire';
import { freePort } from '../../local/dynamodb-local';
import { byNode, probeOptions, roundWhileFrozen } from '../support/probes';
import { type PrimaryReplicaPair, pgQuery, startPostgresPair, waitFor } from '../support/servers';

const { options } = probeOptions();

function lsnOrder(a: string | undefined, b: string | undefined): number | undefined {
  return comparePositions(parsePosition('postgresql', a ?? ''), parsePosition('postgresql', b ?? ''));
}

async function replayedEverything(pair: PrimaryReplicaPair): Promise<boolean> {
  const [primary] = await pgQuery<{ lsn: string }>(pair.primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const [replica] = await pgQuery<{ lsn: string }>(
    pair.replica,
    'SELECT pg_last_wal_replay_lsn()::text AS lsn',
  );
  return primary !== undefined && replica !== undefined && lsnOrder(replica.lsn, primary.lsn) === 0;
}

describe('the PostgreSQL probe on a real primary and streaming replica', () => {
  let pair: PrimaryReplicaPair;
  let target: ProbeTarget;

  beforeAll(async () => {
    pair = await startPostgresPair();
    target = {
      clusterId: 'orders-pg',
      engine: 'postgresql',
      nodes: [pair.primary.endpoint, pair.replica.endpoint],
    };
    // A replayed transaction gives the replica a pg_last_xact_replay_timestamp().
    await pgQuery(pair.primary, 'CREATE TABLE orders (id serial PRIMARY KEY, note text)');
    await waitFor('pg-2 to replay the primary', () => replayedEverything(pair));
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('reports pg-1 as primary at its current WAL LSN and pg-2 as its streaming replica, idle: lag 0, not paused', async () => {
    let heartbeats: HeartbeatInput[] = [];
    // Background WAL (running-xacts records) can land between the two reads: probe until a quiet round.
    await waitFor('a round with the replica caught up', async () => {
      heartbeats = await probeCluster(target, options);
      return byNode(heartbeats, 'pg-2').replication?.appliedPosition === byNode(heartbeats, 'pg-1').position;
    });

    const [current] = await pgQuery<{ lsn: string }>(
      pair.primary,
      'SELECT pg_current_wal_lsn()::text AS lsn',
    );
    const primary = byNode(heartbeats, 'pg-1');
    expect(primary).toMatchObject({ role: 'primary', reachable: true, observerId: 'probe-test' });
    expect(primary.replication).toBeUndefined();
    expect(lsnOrder(primary.position, current?.lsn)).toBeLessThanOrEqual(0);
    const replica = byNode(heartbeats, 'pg-2');
    expect(replica).toMatchObject({ role: 'replica', reachable: true });
    expect(replica.position).toBeUndefined();
    expect(replica.replication).toEqual({
      sourceNodeId: 'pg-1',
      linkUp: true,
      receivedPosition: expect.any(String),
      appliedPosition: primary.position,
      lagSeconds: 0,
      paused: false,
    });
    expect(primary.selfFencing).toEqual({
      enabled: false,
      detail: "synchronous_standby_names '', synchronous_commit on",
    });
    expect(replica.selfFencing).toBeUndefined();
    for (const hb of heartbeats) expect(parseHeartbeat(hb).engine).toBe('postgresql');
  });

  it('reports the primary self-fencing while synchronous_standby_names names a standby', async () => {
    await pgQuery(pair.primary, "ALTER SYSTEM SET synchronous_standby_names = '*'");
    await pgQuery(pair.primary, 'SELECT pg_reload_conf()');
    try {
      let primary: HeartbeatInput | undefined;
      await waitFor('the probe to see the reloaded setting', async () => {
        primary = byNode(await probeCluster(target, options), 'pg-1');
        return primary.selfFencing?.enabled === true;
      });
      expect(primary?.selfFencing).toEqual({
        enabled: true,
        detail: "synchronous_standby_names '*', synchronous_commit on",
      });
    } finally {
      await pgQuery(pair.primary, 'ALTER SYSTEM RESET synchronous_standby_names');
      await pgQuery(pair.primary, 'SELECT pg_reload_conf()');
    }
  });

  it('after pg_wal_replay_pause() and writes on the primary reports the replica paused, with received ahead of replayed', async () => {
    await pgQuery(pair.replica, 'SELECT pg_wal_replay_pause()');
    try {
      await waitFor('replay to pause', async () => {
        const [row] = await pgQuery<{ state: string }>(
          pair.replica,
          'SELECT pg_get_wal_replay_pause_state() AS state',
        );
        return row?.state === 'paused';
      });
      await pgQuery(pair.primary, "INSERT INTO orders (note) SELECT 'n' || g FROM generate_series(1, 100) g");
      await waitFor('pg-2 to receive WAL it does not replay', async () => {
        const [row] = await pgQuery<{ behind: boolean }>(
          pair.replica,
          'SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() AS behind',
        );
        return row?.behind === true;
      });

      const first = byNode(await probeCluster(target, options), 'pg-2');
      await pgQuery(pair.primary, "INSERT INTO orders (note) VALUES ('more')");
      const heartbeats = await probeCluster(target, options);

      const replica = byNode(heartbeats, 'pg-2');
      expect(replica.replication).toMatchObject({ sourceNodeId: 'pg-1', linkUp: true, paused: true });
      expect(lsnOrder(replica.replication?.receivedPosition, replica.replication?.appliedPosition)).toBe(1);
      expect(replica.replication?.appliedPosition).toBe(first.replication?.appliedPosition);
      expect(lsnOrder(byNode(heartbeats, 'pg-1').position, replica.replication?.appliedPosition)).toBe(1);
      // now() - pg_last_xact_replay_timestamp(): the age of the last transaction it replayed.
      expect(replica.replication?.lagSeconds).toBeGreaterThan(0);
    } finally {
      await pgQuery(pair.replica, 'SELECT pg_wal_replay_resume()');
    }
    await waitFor('pg-2 to catch up after the resume', () => replayedEverything(pair));
  });

  it('reports a node on a closed port as unreachable with role unknown, and still reports the others', async () => {
    const closed = { nodeId: 'pg-9', url: `postgresql://postgres@127.0.0.1:${await freePort()}/postgres` };

    const heartbeats = await probeCluster({ ...target, nodes: [...target.nodes, closed] }, options);

    expect(byNode(heartbeats, 'pg-9')).toMatchObject({ role: 'unknown', reachable: false });
    expect(heartbeats.map((hb) => hb.role)).toEqual(['primary', 'replica', 'unknown']);
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });

  it('reports a frozen primary (SIGSTOP) unreachable at its deadline, and the replica on time', async () => {
    const deadlineMs = 1_500;
    const {
      result: heartbeats,
      startedAt,
      endedAt,
    } = await roundWhileFrozen(pair.primary, () => probeCluster(target, { ...options, deadlineMs }));

    // The deadline plus scheduling slack on a busy machine; the connect timeout alone would be 2.5 s.
    expect(endedAt - startedAt).toBeLessThan(deadlineMs + 1_000);
    expect(byNode(heartbeats, 'pg-1')).toMatchObject({ role: 'unknown', reachable: false });
    const replica = byNode(heartbeats, 'pg-2');
    expect(replica).toMatchObject({ role: 'replica', reachable: true });
    expect(Date.parse(replica.observedAt) - startedAt).toBeLessThan(deadlineMs);
    // Resumed, the primary answers the next round.
    await waitFor('pg-1 to answer the probe again', async () => {
      const again = await probeCluster(target, options);
      return byNode(again, 'pg-1').role === 'primary';
    });
  });

  it('after the primary is killed reports it unreachable and the replica with its link down', async () => {
    await pair.kill(pair.primary);
    await waitFor('the WAL receiver to lose the primary', async () => {
      const rows = await pgQuery<{ status: string }>(pair.replica, 'SELECT status FROM pg_stat_wal_receiver');
      return rows.every((row) => row.status !== 'streaming');
    });

    const heartbeats = await probeCluster(target, options);

    expect(byNode(heartbeats, 'pg-1')).toMatchObject({ role: 'unknown', reachable: false });
    const replica = byNode(heartbeats, 'pg-2');
    expect(replica).toMatchObject({ role: 'replica', reachable: true, replication: { linkUp: false } });
    expect(replica.replication?.lagSeconds).toBeUndefined();
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });
});
