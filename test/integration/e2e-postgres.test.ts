import { describe, expect, it } from '@jest/globals';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import {
  expectFailedOver,
  expectStallRecovered,
  incidentRun,
  useE2e,
  waitForHealthyPrimary,
} from '../support/e2e';
import { type PrimaryReplicaPair, pgQuery, startPostgresPair } from '../support/servers';

/**
 * The whole pipeline on a real PostgreSQL primary and streaming replica on 127.0.0.1, probed by `watch`,
 * fed through the local stack. A two-node cluster meets the dead-primary quorum (2 views) with one probe:
 * the probe cannot reach the primary, and it reads on the replica that the replica's WAL receiver lost its
 * link. The stall and the crash are caused on the servers; the outcome is read back from them.
 */
describe('end to end on real PostgreSQL: stall and failover', () => {
  const fixture = useE2e(startPostgresPair, async (postgres) => {
    await pgQuery(postgres.primary, 'CREATE TABLE orders (id int PRIMARY KEY)');
    return { clusterId: 'e2e-pg', engine: 'postgresql', nodes: [postgres.primary, postgres.replica] };
  });

  const count = async (node: PrimaryReplicaPair['primary']) => {
    const [row] = await pgQuery<{ n: number }>(node, 'SELECT count(*)::int AS n FROM orders');
    return row?.n;
  };

  it('reports a replica whose WAL replay is paused as STALLED while the primary takes writes; the auto runbook resumes it', async () => {
    const { e2e, servers } = fixture;
    const { replica, primary } = servers;
    await e2e.waitForStatus(replica.nodeId, 'HEALTHY');
    await pgQuery(replica, 'SELECT pg_wal_replay_pause()');
    await pgQuery(primary, 'INSERT INTO orders SELECT generate_series(1, 100)');

    const stall = await incidentRun(e2e, replica.nodeId, 'STALLED');
    expectStallRecovered(stall, /has not advanced for .* \(replay is paused\)/);
    expect(stall.resolved.runbookSteps?.find((s) => s.step === 'restarted')?.detail).toContain(
      'pg_wal_replay_resume()',
    );
    await e2e.waitForStatus(replica.nodeId, 'HEALTHY');
    // On the replica itself: replay runs again and the rows written during the pause are there.
    const [state] = await pgQuery<{ paused: boolean }>(replica, 'SELECT pg_is_wal_replay_paused() AS paused');
    expect(state?.paused).toBe(false);
    expect(await count(replica)).toBe(100);
  });

  it('declares the killed primary DEAD by the probe and the replica, and promotes the replica', async () => {
    const { e2e, servers } = fixture;
    const { replica, primary } = servers;
    const [{ lsn } = { lsn: '' }] = await pgQuery<{ lsn: string }>(
      primary,
      'SELECT pg_current_wal_lsn()::text AS lsn',
    );
    const written = parsePosition('postgresql', lsn);
    await e2e.waitForNode(
      `${replica.nodeId} to be HEALTHY with ${lsn} replayed`,
      replica.nodeId,
      (n) =>
        n.status === 'HEALTHY' &&
        n.appliedPosition !== undefined &&
        (comparePositions(parsePosition('postgresql', n.appliedPosition), written) ?? -1) >= 0,
    );
    await servers.kill(primary);

    const failover = await incidentRun(e2e, primary.nodeId, 'DEAD');
    const promotedId = expectFailedOver(
      failover,
      /2\/2 views confirm: observer .*: cannot reach pg-1; replica pg-2: replication link down/,
    );
    expect(promotedId).toBe(replica.nodeId);

    // On the server: out of recovery, and it takes writes.
    const [state] = await pgQuery<{ recovery: boolean }>(replica, 'SELECT pg_is_in_recovery() AS recovery');
    expect(state?.recovery).toBe(false);
    await pgQuery(replica, 'INSERT INTO orders VALUES (1001)');
    expect(await count(replica)).toBe(101);
    await waitForHealthyPrimary(e2e, replica.nodeId);
  });
});
