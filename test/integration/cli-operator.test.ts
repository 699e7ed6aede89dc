import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import { keys } from '../../functions/adapters/table-definition';
import type { Incident } from '../../functions/core/incidents';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { cli } from '../support/cli';
import { localEndpoint } from '../support/dynamodb';
import { getClusterItem } from '../support/table-items';

/**
 * The operator commands (pause, resume, unlock, ack, history; approve's refusal) run as a user runs them,
 * against a local stack's operator API, on DynamoDB Local: what each records, and that bad input exits 2
 * with one line and changes nothing.
 */
describe('replica-sentinel operator commands against a local stack', () => {
  let stack: LocalStack;
  let client: ReturnType<typeof documentClient>;
  let tableName: string;
  const lines: string[] = [];
  const T0 = Date.now() - 3_600_000;

  /** As operator erin (`--as` applies to mutations; history only reads). */
  const run = (...args: string[]) =>
    cli([...args, '--endpoint', stack.url, ...(args[0] === 'history' ? [] : ['--as', 'erin'])]);
  const meta = (clusterId: string) => getClusterItem({ client, tableName }, clusterId);
  const put = (item: Record<string, unknown>) =>
    client.send(new PutCommand({ TableName: tableName, Item: item }));
  const incident = (id: string, change: Partial<Incident>): Incident => ({
    clusterId: 'orders',
    incidentId: id,
    nodeId: 'pg-1',
    role: 'primary',
    kind: 'DEAD',
    severity: 'critical',
    state: 'OPEN',
    openedAt: T0,
    updatedAt: T0,
    lastNodeVersion: 3,
    revision: 2,
    flaps: 0,
    timeline: [{ at: T0, event: 'opened', from: 'SILENT', to: 'DEAD', reason: 'pg-1 DEAD' }],
    outbox: {},
    ...change,
  });
  const saveIncident = (i: Incident) =>
    put({
      PK: keys.clusterPk(i.clusterId),
      SK: keys.incidentSk(new Date(i.openedAt).toISOString(), i.incidentId),
      type: 'incident',
      ...i,
    });
  const findIncident = (id: string) => new RecoveryStore(client, tableName).findIncident('orders', id);

  beforeAll(async () => {
    tableName = `operator-${randomUUID().slice(0, 8)}`;
    stack = await startLocalStack({
      port: 0,
      dynamodb: { endpoint: localEndpoint(), tableName },
      sweepIntervalMs: 3_600_000,
      print: (line) => lines.push(line),
    });
    client = documentClient({ ...LOCAL_AWS, endpoint: localEndpoint() });
    await put({
      PK: keys.clusterPk('orders'),
      SK: keys.clusterMetaSk,
      type: 'cluster',
      mode: 'auto',
      epoch: 4,
      primaryNodeId: 'pg-2',
      lockIncidentId: 'inc-held',
      lockSince: T0,
      lockRunbook: 'primary-failover',
      epochIncidentId: 'inc-held',
    });
    await saveIncident(incident('inc-held', { state: 'FAILED', runbook: 'primary-failover' }));
    await saveIncident(incident('inc-failed', { state: 'FAILED', openedAt: T0 + 1 }));
    await saveIncident(
      incident('inc-lost', { kind: 'DATA_LOSS', nodeId: 'pg-2', openedAt: T0 + 2, timeline: [] }),
    );
    await put({
      PK: keys.clusterPk('orders'),
      SK: keys.nodeSk('pg-2'),
      type: 'node',
      clusterId: 'orders',
      nodeId: 'pg-2',
      role: 'primary',
      status: 'DATA_LOSS',
      statusSince: T0,
      statusReason: 'restarted empty',
      dataLossReason: 'restarted empty: 1200 keys lost',
      dataLossAt: T0,
      lastHeartbeatAt: T0,
      deadlineAt: T0 + 30_000,
      version: 5,
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    client?.destroy();
  });

  it('refuses bad input with exit 2 and one line, changing nothing', async () => {
    const before = await meta('orders');
    for (const [args, message] of [
      [['pause', '--cluster', 'orders'], 'pause: --reason is required: say why (it is recorded)'],
      [['unlock', '--cluster', 'orders'], 'unlock: --reason is required: say why (it is recorded)'],
      [['ack', 'inc-failed', '--cluster', 'orders'], 'ack: --reason is required: say why (it is recorded)'],
      [['ack', '--cluster', 'orders', '--reason', 'x'], 'ack: give the incident id'],
      [['pause', '--cluster', 'nope', '--reason', 'x'], "pause refused (HTTP 404): unknown cluster 'nope'"],
      [
        ['ack', 'inc-nope', '--cluster', 'orders', '--reason', 'x'],
        'ack refused (HTTP 404): incident inc-nope of cluster orders does not exist',
      ],
      [
        ['approve', 'inc-failed', '--cluster', 'orders'],
        'approve refused (HTTP 409): incident inc-failed is not waiting for an approval (its runbook outcome: none yet)',
      ],
      [['history', '--cluster', 'nope'], "unknown cluster 'nope'"],
    ] as const) {
      expect([args.join(' '), await run(...args)]).toEqual([
        args.join(' '),
        { code: 2, stdout: '', stderr: `replica-sentinel: ${message}\n` },
      ]);
    }
    expect(await meta('orders')).toEqual(before);
  });

  it('pauses once with who and why, refuses a second pause unchanged, and resumes', async () => {
    const paused = await run('pause', '--cluster', 'orders', '--reason', 'storage migration');
    expect(paused).toMatchObject({ code: 0, stderr: '' });
    expect(paused.stdout).toMatch(/^orders: automation paused: .* \(by local:erin: storage migration\)\n$/);
    const after = await meta('orders');
    expect(after).toMatchObject({ pausedBy: 'local:erin', pausedReason: 'storage migration' });
    expect(after?.operatorLog).toEqual([
      expect.objectContaining({ action: 'pause', by: 'local:erin', reason: 'storage migration' }),
    ]);
    expect(stack.notifications.map((n) => n.metadata.eventType)).toContain('operator-pause');

    const second = await cli([
      'pause',
      '--cluster',
      'orders',
      '--reason',
      'again',
      '--endpoint',
      stack.url,
      '--as',
      'frank',
    ]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(
      /^replica-sentinel: pause refused \(HTTP 409\): cluster orders is already paused by local:erin: storage migration \(since \S+\)\n$/,
    );
    expect(await meta('orders')).toEqual(after);

    const resumed = await run('resume', '--cluster', 'orders', '--reason', 'done', '--json');
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ action: 'resume', by: 'local:erin', reason: 'done' });
    expect(await meta('orders')).not.toHaveProperty('pausedBy');
    const again = await run('resume', '--cluster', 'orders', '--reason', 'done');
    expect(again).toEqual({
      code: 2,
      stdout: '',
      stderr: 'replica-sentinel: resume refused (HTTP 409): cluster orders is not paused\n',
    });
  });

  it('releases a lock left by a failed failover, on record, and refuses when none is held', async () => {
    const unlocked = await run('unlock', '--cluster', 'orders', '--reason', 'checked pg-1 is fenced');
    expect(unlocked.code).toBe(0);
    expect(unlocked.stdout).toBe(
      'orders: released the recovery lock of incident inc-held (primary-failover) (by local:erin: checked pg-1 is fenced)\n',
    );
    const after = await meta('orders');
    expect(after).not.toHaveProperty('lockIncidentId');
    expect(after?.epoch).toBe(4);
    expect((await findIncident('inc-held'))?.timeline.at(-1)).toMatchObject({
      event: 'operator',
      by: 'local:erin',
      reason: expect.stringMatching(/^unlock by local:erin: checked pg-1 is fenced/),
    });
    const none = await run('unlock', '--cluster', 'orders', '--reason', 'again');
    expect(none).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'replica-sentinel: unlock refused (HTTP 409): cluster orders holds no recovery lock: nothing to release\n',
    });
  });

  it('acknowledges a FAILED incident once, and clears a DATA_LOSS hold', async () => {
    const acked = await run('ack', 'inc-failed', '--cluster', 'orders', '--reason', 'handled by hand');
    expect(acked.code).toBe(0);
    expect(await findIncident('inc-failed')).toMatchObject({
      state: 'RESOLVED',
      revision: 3,
      acknowledged: { by: 'local:erin', reason: 'handled by hand' },
    });
    const twice = await run('ack', 'inc-failed', '--cluster', 'orders', '--reason', 'again');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(
      /^replica-sentinel: ack refused \(HTTP 409\): incident inc-failed is already closed/,
    );

    const lost = await run('ack', 'inc-lost', '--cluster', 'orders', '--reason', 'restored from backup');
    expect(lost.stderr).toBe('');
    expect(lost.stdout).toContain('the DATA_LOSS hold on pg-2 is cleared');
    const node = await client.send(
      new GetCommand({
        TableName: tableName,
        Key: { PK: keys.clusterPk('orders'), SK: keys.nodeSk('pg-2') },
      }),
    );
    expect(node.Item).not.toHaveProperty('dataLossReason');
    expect(node.Item?.version).toBe(6);
  });

  it('prints the epoch history, as lines and as JSON', async () => {
    await new RecoveryStore(client, tableName).recordEpoch({
      clusterId: 'orders',
      epoch: 4,
      primaryNodeId: 'pg-2',
      previousPrimaryNodeId: 'pg-1',
      at: T0,
      by: 'runbook primary-failover (execution inc-held)',
      incidentId: 'inc-held',
      why: 'pg-1 was DEAD; pg-2 is the most advanced replica',
      dataAtRisk: '0 bytes behind',
    });
    const text = await run('history', '--cluster', 'orders');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      `epoch 4  ${new Date(T0).toISOString()}  pg-1 → pg-2  by runbook primary-failover (execution inc-held) for incident inc-held; why: pg-1 was DEAD; pg-2 is the most advanced replica; data at risk: 0 bytes behind\n`,
    );
    const json = await cli(['history', '--cluster', 'orders', '--json', '--endpoint', stack.url]);
    expect(JSON.parse(json.stdout)).toEqual({
      clusterId: 'orders',
      epochs: [expect.objectContaining({ epoch: 4, primaryNodeId: 'pg-2', previousPrimaryNodeId: 'pg-1' })],
    });
  });
});
