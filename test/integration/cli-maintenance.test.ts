import { beforeAll, describe, expect, it } from '@jest/globals';
import { cli, tableArgs } from '../support/cli';
import { useTestTable } from '../support/dynamodb';
import { ingestOn } from '../support/handlers';
import { lsn, replicaHeartbeat } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const context = lambdaContext();

describe('replica-sentinel maintenance (the CLI) on DynamoDB Local', () => {
  const table = useTestTable('cli');
  let target: string[];
  beforeAll(async () => {
    target = tableArgs(table);
  });

  it('records a cluster maintenance window with who and why, and clears it', async () => {
    const set = await cli([
      'maintenance',
      'set',
      '--cluster',
      'orders-pg',
      '--for',
      '2h',
      '--reason',
      'minor upgrade',
      '--by',
      'alice',
      '--json',
      ...target,
    ]);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    const printed = JSON.parse(set.stdout) as { until: string };
    expect(printed).toMatchObject({
      action: 'set',
      clusterId: 'orders-pg',
      by: 'alice',
      reason: 'minor upgrade',
    });

    const meta = (await table.clusterItems('orders-pg')).find((i) => i.SK === 'META');
    expect(meta).toMatchObject({
      maintenanceUntil: Date.parse(printed.until),
      maintenanceBy: 'alice',
      maintenanceReason: 'minor upgrade',
    });

    const clear = await cli([
      'maintenance',
      'clear',
      '--cluster',
      'orders-pg',
      '--reason',
      'done early',
      '--by',
      'bob',
      ...target,
    ]);
    expect(clear.code).toBe(0);
    expect(clear.stdout).toBe('maintenance cleared on orders-pg (by bob: done early)\n');
    const after = (await table.clusterItems('orders-pg')).find((i) => i.SK === 'META');
    expect(after?.maintenanceUntil).toBeUndefined();
    expect(after?.maintenanceLog).toEqual([
      expect.objectContaining({ action: 'set', by: 'alice', reason: 'minor upgrade' }),
      expect.objectContaining({ action: 'clear', by: 'bob', reason: 'done early' }),
    ]);
  });

  it('puts a node in MAINTENANCE, keeps it there through heartbeats, and lets the next heartbeat judge it after clear', async () => {
    const clusterId = 'cli-node';
    const ingest = ingestOn(table, { logger: silentLogger() });
    const beat = (seq: number) =>
      ingest(
        kinesisEvent([
          kinesisRecord(replicaHeartbeat({ clusterId, at: Date.now(), seq, applied: lsn(seq) })),
        ]),
        context,
      );
    await beat(1);

    const set = await cli([
      'maintenance',
      'set',
      '--cluster',
      clusterId,
      '--node',
      'pg-2',
      '--for',
      '1h',
      '--reason',
      'disk swap',
      '--by',
      'carol',
      ...target,
    ]);
    expect(set.code).toBe(0);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      status: 'MAINTENANCE',
      transitionFrom: 'HEALTHY',
      transitionTo: 'MAINTENANCE',
      maintenanceBy: 'carol',
      maintenanceReason: 'disk swap',
    });
    await beat(2);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      status: 'MAINTENANCE',
      seq: 2,
      maintenanceBy: 'carol',
    });

    expect(
      (
        await cli([
          'maintenance',
          'clear',
          '--cluster',
          clusterId,
          '--node',
          'pg-2',
          '--reason',
          'swapped',
          ...target,
        ])
      ).code,
    ).toBe(0);
    await beat(3);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      status: 'HEALTHY',
      transitionFrom: 'MAINTENANCE',
    });
  });

  it.each([
    [
      ['maintenance', 'set', '--cluster', 'c', '--for', '1h'],
      'replica-sentinel: --reason is required: say why (it is recorded)',
    ],
    [
      ['maintenance', 'set', '--cluster', 'c', '--for', '2x', '--reason', 'r'],
      "replica-sentinel: --for: '2x' is not a duration like 30m, 2h or 1d",
    ],
    [
      ['maintenance', 'set', '--cluster', 'c', '--reason', 'r'],
      'replica-sentinel: give exactly one of --for or --until',
    ],
    [
      ['maintenance', 'pause', '--cluster', 'c'],
      "replica-sentinel: maintenance: expected 'set' or 'clear', got 'pause'",
    ],
    [['frobnicate'], "replica-sentinel: unknown command 'frobnicate' (try --help)"],
  ])('rejects %j with one line on stderr and exit code 2', async (args, message) => {
    const result = await cli([...args, ...target]);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
  });

  it('names the known nodes when the node is unknown', async () => {
    const result = await cli([
      'maintenance',
      'set',
      '--cluster',
      'cli-node',
      '--node',
      'pg-9',
      '--for',
      '1h',
      '--reason',
      'r',
      ...target,
    ]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'replica-sentinel: node cli-node/pg-9 is unknown (nodes of cli-node: pg-2)\n',
    });
  });

  it('says how to reach a local stack when none answers', async () => {
    const result = await cli([
      'maintenance',
      'set',
      '--cluster',
      'c',
      '--for',
      '1h',
      '--reason',
      'r',
      '--endpoint',
      'http://127.0.0.1:9',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'replica-sentinel: no local stack answers at http://127.0.0.1:9 (start one with `replica-sentinel local up`, or pass --endpoint / --stack)\n',
    );
    expect(result.stderr.split('\n')).toHaveLength(2);
  });

  it('prints help for a command with exit code 0', async () => {
    const result = await cli(['maintenance', 'set', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: replica-sentinel maintenance set --cluster ID');
  });
});
