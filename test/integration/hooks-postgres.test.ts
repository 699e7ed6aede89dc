import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createHookRunner,
  localCredentials,
  replicationProgress,
  verifyPrimary,
} from '../../functions/adapters/hooks/index';
import { HookFailedError } from '../../functions/core/hooks';
import { comparePositions } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { NotYetPrimaryError } from '../../functions/core/runbook';
import { hookRequests } from '../support/hook-requests';
import {
  type PrimaryReplicaPair,
  pgQuery,
  type ServerNode,
  startPostgresPair,
  waitFor,
} from '../support/servers';

const EPOCH = 3;
const hooks = createHookRunner({ credentials: localCredentials });

const request = hookRequests({
  clusterId: 'orders-pg',
  engine: 'postgresql',
  incidentId: 'incident-pg-1',
  epoch: EPOCH,
});

const progress = async (node: ServerNode) =>
  parsePosition('postgresql', await replicationProgress('postgresql', node.endpoint, undefined));

describe('built-in PostgreSQL hooks on a real primary and streaming replica', () => {
  let pair: PrimaryReplicaPair;

  beforeAll(async () => {
    pair = await startPostgresPair();
    await pgQuery(pair.primary, 'CREATE TABLE orders (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('restartReplication resumes paused WAL replay, and the replay LSN advances after a write', async () => {
    const { primary, replica } = pair;
    await pgQuery(replica, 'SELECT pg_wal_replay_pause()');
    await waitFor('replay to pause', async () => {
      const [row] = await pgQuery<{ state: string }>(
        replica,
        'SELECT pg_get_wal_replay_pause_state() AS state',
      );
      return row?.state === 'paused';
    });
    const pausedAt = await progress(replica);
    await pgQuery(primary, 'INSERT INTO orders VALUES (1)');
    const written = await progress(primary);
    await waitFor('the replica to receive the write', async () => {
      const [row] = await pgQuery<{ lsn: string }>(replica, 'SELECT pg_last_wal_receive_lsn()::text AS lsn');
      return comparePositions(parsePosition('postgresql', row?.lsn ?? '0/0'), written) !== -1;
    });
    expect(comparePositions(await progress(replica), pausedAt)).toBe(0);

    const result = await hooks.run(request('restartReplication', replica, primary), undefined);

    expect(result.detail).toMatch(/Resumed WAL replay .* with pg_wal_replay_resume\(\)/);
    await waitFor(
      'replay to pass the write',
      async () => comparePositions(await progress(replica), written) !== -1,
    );
    expect(comparePositions(await progress(replica), pausedAt)).toBe(1);
    expect(await pgQuery(replica, 'SELECT id FROM orders')).toEqual([{ id: 1 }]);
  });

  it('restartReplication on a replica that is not paused says so and changes nothing', async () => {
    const result = await hooks.run(request('restartReplication', pair.replica, pair.primary), undefined);

    expect(result.detail).toMatch(/was not paused: nothing to resume; WAL receiver streaming/);
  });

  it('repoint rewrites primary_conninfo and reloads: the WAL receiver reconnects to the new address', async () => {
    const { primary, replica } = pair;
    const sameServerOtherName = {
      nodeId: 'pg-1',
      url: `postgresql://postgres@localhost:${primary.port}/postgres`,
    };

    const first = await hooks.run(request('repoint', replica, sameServerOtherName), undefined);
    const second = await hooks.run(request('repoint', replica, sameServerOtherName), undefined);

    expect(first.detail).toMatch(
      /Repointed .* to pg-1 \(localhost:\d+\).*recovery_target_timeline is latest/,
    );
    expect(second.detail).toMatch(/already has primary_conninfo pointing to pg-1 \(localhost/);
    const [conninfo] = await pgQuery<{ primary_conninfo: string }>(replica, 'SHOW primary_conninfo');
    // The keys pg_basebackup -R wrote (sslmode, passfile...) are kept; only where to connect changes.
    expect(conninfo?.primary_conninfo).toMatch(/host='localhost' port='\d+'/);
    expect(conninfo?.primary_conninfo).toMatch(/sslmode='prefer'/);
    await waitFor('the WAL receiver to stream from localhost', async () => {
      const [row] = await pgQuery<{ host: string; status: string }>(
        replica,
        'SELECT sender_host AS host, status FROM pg_stat_wal_receiver',
      );
      return row?.host === 'localhost' && row.status === 'streaming';
    });
  });

  it('verifyPrimary passes on the primary and throws NotYetPrimaryError on the standby', async () => {
    await expect(verifyPrimary('postgresql', pair.primary.endpoint, undefined)).resolves.toBeUndefined();
    await expect(verifyPrimary('postgresql', pair.replica.endpoint, undefined)).rejects.toThrow(
      /still in recovery/,
    );
  });

  it('verifyPrimary commits a new token to its one-row table replica_sentinel_verify each time, and it replicates', async () => {
    const token = async (node: ServerNode) =>
      (await pgQuery<{ token: string }>(node, 'SELECT token FROM replica_sentinel_verify')).map(
        (r) => r.token,
      );
    const first = await token(pair.primary);

    await verifyPrimary('postgresql', pair.primary.endpoint, undefined);
    const second = await token(pair.primary);

    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second).not.toEqual(first);
    await waitFor('the verify row to reach the standby', async () => {
      return JSON.stringify(await token(pair.replica)) === JSON.stringify(second);
    });
  });

  it('verifyPrimary rejects a primary whose commits cannot complete (a synchronous standby that is not there)', async () => {
    const { primary } = pair;
    await pgQuery(primary, "ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'");
    await pgQuery(primary, 'SELECT pg_reload_conf()');
    await waitFor('the setting to apply', async () => {
      const [row] = await pgQuery<{ value: string }>(primary, 'SHOW synchronous_standby_names');
      return row !== undefined && Object.values(row)[0] === 'absent_standby';
    });
    try {
      const error = await verifyPrimary('postgresql', primary.endpoint, undefined).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(NotYetPrimaryError);
      expect((error as Error).message).toMatch(
        /out of recovery but did not commit a write to replica_sentinel_verify within 3000 ms/,
      );
    } finally {
      await pgQuery(primary, 'ALTER SYSTEM RESET synchronous_standby_names');
      await pgQuery(primary, 'SELECT pg_reload_conf()');
    }
    await waitFor('verifyPrimary to pass again once commits complete', async () =>
      verifyPrimary('postgresql', primary.endpoint, undefined).then(
        () => true,
        () => false,
      ),
    );
  });

  it('fences a live old primary: default_transaction_read_only on, writes refused, verifyPrimary fails', async () => {
    const result = await hooks.run(request('fence', pair.primary, pair.replica), undefined);

    expect(result.detail).toMatch(/Fenced old primary pg-1 .* set on with ALTER SYSTEM and reloaded/);
    await expect(pgQuery(pair.primary, 'INSERT INTO orders VALUES (2)')).rejects.toThrow(
      /read-only transaction/,
    );
    await expect(verifyPrimary('postgresql', pair.primary.endpoint, undefined)).rejects.toThrow(
      NotYetPrimaryError,
    );
    const again = await hooks.run(request('fence', pair.primary, pair.replica), undefined);
    expect(again.detail).toMatch(/was already on/);
  });

  it('fences the old primary as unreachable once its postmaster is killed', async () => {
    await pair.kill(pair.primary);

    const result = await hooks.run(request('fence', pair.primary, pair.replica), undefined);

    expect(result.detail).toMatch(/Old primary pg-1 .* is unreachable \(ECONNREFUSED\).*fenced by epoch 3/);
  });

  it('promotes the standby with pg_promote; verifyPrimary passes and a write succeeds; twice is harmless', async () => {
    const first = await hooks.run(request('promote', pair.replica), undefined);
    const second = await hooks.run(request('promote', pair.replica), undefined);

    expect(first.detail).toMatch(/promoted with pg_promote\(true, 60\): pg_is_in_recovery\(\) is now false/);
    expect(second.detail).toMatch(/already out of recovery/);
    await expect(verifyPrimary('postgresql', pair.replica.endpoint, undefined)).resolves.toBeUndefined();
    await pgQuery(pair.replica, 'INSERT INTO orders VALUES (3)');
    expect(await pgQuery(pair.replica, 'SELECT id FROM orders ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it('refuses to repoint a primary, and has no built-in rebuild', async () => {
    await expect(hooks.run(request('repoint', pair.replica, pair.primary), undefined)).rejects.toThrow(
      /it is a primary, not a standby/,
    );
    await expect(hooks.run(request('rebuild', pair.replica, pair.primary), undefined)).rejects.toThrow(
      HookFailedError,
    );
  });
});
