import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { keys } from '../../functions/adapters/table-definition';
import type { HookRequest } from '../../functions/core/hooks';
import type { Incident } from '../../functions/core/incidents';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { follows } from '../../local/redis-servers';
import { loadRunbookDefinitions } from '../../local/runbook-definitions';
import { cli } from '../support/cli';
import { stepsOf, useE2e } from '../support/e2e';
import { redisCommand, type ServerNode, startRedisTopology, waitFor } from '../support/servers';
import { getClusterItem, incidentItems, type TableRef } from '../support/table-items';

/**
 * `replica-sentinel rejoin` and `rebuild` as an operator runs them, against a local stack watching a real
 * Redis primary and two replicas (`watch` probing every second): a replica following another replica and a
 * second writable primary are put back under the recorded primary, a rebuild hook (an HTTPS hook served by
 * the test on 127.0.0.1) is called once; the result is checked on the servers themselves. Bad requests exit
 * 2 with one line and change nothing.
 */
const CLUSTER = 'rejoin-redis';
// The runbooks' definitions are synthesized once (and cached): not while the stack serves a request.
beforeAll(() => loadRunbookDefinitions());
const fixture = useE2e(
  () => startRedisTopology({ replicas: 2 }),
  async (redis) => ({ clusterId: CLUSTER, engine: 'redis', nodes: [redis.primary, ...redis.replicas] }),
);

/** Runs `use` on the e2e run's table through a client of its own, destroyed after. */
const onTable = async <T>(use: (table: TableRef) => Promise<T>): Promise<T> => {
  const { stack } = fixture.e2e;
  const client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
  try {
    return await use({ client, tableName: stack.tableName });
  } finally {
    client.destroy();
  }
};
const meta = () => onTable((table) => getClusterItem(table, CLUSTER));
const setMeta = async (values: Record<string, unknown>) => {
  const fields = Object.keys(values);
  await onTable(({ client, tableName }) =>
    client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { PK: keys.clusterPk(CLUSTER), SK: keys.clusterMetaSk },
        UpdateExpression: `SET ${fields.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(fields.map((f, i) => [`#f${i}`, f])),
        ExpressionAttributeValues: Object.fromEntries(fields.map((f, i) => [`:v${i}`, values[f]])),
      }),
    ),
  );
};
const incidents = async (): Promise<Incident[]> =>
  (await onTable((table) => incidentItems(table, CLUSTER))) as unknown as Incident[];

/** As operator sre-1, against the e2e run's local stack. */
const run = (...args: string[]) => cli([...args, '--endpoint', fixture.e2e.stack.url, '--as', 'sre-1']);
const redis = () => fixture.servers;
const [primary, second, third] = ['redis-1', 'redis-2', 'redis-3'];
const server = (nodeId: string) =>
  [redis().primary, ...redis().replicas].find((n) => n.nodeId === nodeId) as ServerNode;

/** The incident an operator's request opened, and the cluster item's record of the request. */
async function expectRecorded(action: 'rejoin' | 'rebuild', nodeId: string, reason: string, kind: string) {
  const opened = (await incidents()).filter((i) => i.request !== undefined && i.nodeId === nodeId);
  const incident = opened.at(-1);
  expect(incident).toMatchObject({
    kind,
    state: 'RESOLVED',
    runbook: 'replica-recovery',
    request: { by: 'local:sre-1', reason },
  });
  expect(incident?.timeline[0]).toMatchObject({ event: 'opened', by: 'local:sre-1' });
  expect(incident?.timeline[0]?.reason).toContain(`${action} asked by local:sre-1: ${reason}`);
  expect((await meta())?.operatorLog?.at(-1)).toMatchObject({
    action,
    nodeId,
    by: 'local:sre-1',
    reason,
    incidentId: incident?.incidentId,
  });
  expect((await meta())?.lockIncidentId).toBeUndefined();
  return incident as Incident;
}

describe('replica-sentinel rejoin and rebuild on real Redis servers', () => {
  it('records the recorded primary (as a failover would have)', async () => {
    await setMeta({ primaryNodeId: primary, epoch: 1 });
    expect((await meta())?.primaryNodeId).toBe(primary);
  });

  it('refuses bad requests with exit 2 and one line, changing nothing', async () => {
    await fixture.e2e.waitForNode(`${third} to report HEALTHY`, third, (n) => n.status === 'HEALTHY');
    await fixture.e2e.waitForNode(`${second} to report HEALTHY`, second, (n) => n.status === 'HEALTHY');
    await fixture.e2e.waitForNode(`${primary} to report HEALTHY`, primary, (n) => n.status === 'HEALTHY');
    // A slow first probe round can open a SILENT incident that closes a moment later: the snapshot is taken
    // once every incident the detector opened on its own is closed, so only the requests could change it.
    await waitFor('no open incident', async () => (await incidents()).every((i) => i.state !== 'OPEN'), {
      timeoutMs: 60_000,
    });
    const before = { meta: await meta(), incidents: await incidents() };
    const cases: [string[], RegExp][] = [
      [
        ['rejoin', '--cluster', CLUSTER, '--node', primary, '--reason', 'x'],
        /redis-1 is the recorded primary .*use switchover/,
      ],
      [
        ['rejoin', '--cluster', CLUSTER, '--node', second, '--reason', 'x'],
        /nothing to do: redis-2 already replicates from redis-1 and is HEALTHY/,
      ],
      [
        ['rebuild', '--cluster', CLUSTER, '--node', second, '--reason', 'x'],
        /no rebuild hook: configure hooks\.rebuild/,
      ],
      [
        ['rejoin', '--cluster', CLUSTER, '--node', 'redis-9', '--reason', 'x'],
        /rejoin refused \(HTTP 404\): unknown node redis-9 in cluster rejoin-redis/,
      ],
      [
        ['rebuild', '--cluster', CLUSTER, '--node', 'redis-9', '--reason', 'x'],
        /rebuild refused \(HTTP 409\)/,
      ],
      [['rejoin', '--cluster', CLUSTER, '--node', third], /rejoin: --reason is required/],
      [['rebuild', '--cluster', CLUSTER, '--node', third, '--reason', ' '], /rebuild: --reason is required/],
      [['rejoin', '--cluster', CLUSTER, '--reason', 'x'], /--node is required/],
      [['rejoin', '--cluster', 'nope', '--node', third, '--reason', 'x'], /unknown cluster 'nope'/],
      [['rejoin', '--cluster', CLUSTER, '--node', third, '--reason', 'x', '--bogus'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const result = await run(...args);
      expect([args.join(' '), result.code, result.stdout]).toEqual([args.join(' '), 2, '']);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    expect({ meta: await meta(), incidents: await incidents() }).toEqual(before);
  });

  it('refuses while another run holds the lock, naming it', async () => {
    await setMeta({ lockIncidentId: 'busy-1', lockRunbook: 'primary-failover' });
    const result = await run('rejoin', '--cluster', CLUSTER, '--node', third, '--reason', 'x');
    await onTable(({ client, tableName }) =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { PK: keys.clusterPk(CLUSTER), SK: keys.clusterMetaSk },
          UpdateExpression: 'REMOVE lockIncidentId, lockRunbook',
        }),
      ),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/another run holds the cluster lock: incident busy-1 \(primary-failover\)/);
    expect((await meta())?.operatorLog).toBeUndefined();
  });

  it('repoints a replica that follows another replica to the recorded primary', async () => {
    await redisCommand(server(third), ['REPLICAOF', server(second).host, String(server(second).port)]);
    await fixture.e2e.waitForNode(
      `${third} to report following ${second}`,
      third,
      (n) => n.sourceNodeId === second,
    );

    const result = await run(
      'rejoin',
      '--cluster',
      CLUSTER,
      '--node',
      third,
      '--reason',
      'cascade set up by mistake',
    );

    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /rejoin of redis-3 started: redis-3 follows redis-2: repoint it to redis-1/,
    );
    expect(result.stdout).toMatch(/rejoined: redis-3 replicates from redis-1 \(asked by local:sre-1\)/);
    expect(result.code).toBe(0);
    await waitFor('redis-3 to follow redis-1 (INFO replication)', () =>
      follows(server(third), server(primary)),
    );
    const incident = await expectRecorded('rejoin', third, 'cascade set up by mistake', 'WRONG_SOURCE');
    expect(stepsOf(incident)).toEqual(
      expect.arrayContaining(['verified', 'locked', 'rejoined', 'progressing', 'completed']),
    );
  });

  it('demotes a second writable primary under the recorded one, also while automation is paused', async () => {
    const paused = await run('pause', '--cluster', CLUSTER, '--reason', 'hands off while we look');
    expect(paused.code).toBe(0);
    await redisCommand(server(third), ['REPLICAOF', 'NO', 'ONE']);
    await fixture.e2e.waitForStatus(third, 'SPLIT_BRAIN');

    const result = await run(
      'rejoin',
      '--cluster',
      CLUSTER,
      '--node',
      third,
      '--reason',
      'stray failover test',
    );

    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/redis-3 reports itself primary \(SPLIT_BRAIN\): demote it under redis-1/);
    expect(result.stdout).toMatch(/rejoined: redis-3 replicates from redis-1/);
    expect(result.code).toBe(0);
    await waitFor('redis-3 to follow redis-1 (INFO replication)', () =>
      follows(server(third), server(primary)),
    );
    expect(((await redisCommand(server(third), ['ROLE'])) as unknown[])[0]).toBe('slave');
    const incident = await expectRecorded('rejoin', third, 'stray failover test', 'SPLIT_BRAIN');
    expect(stepsOf(incident)).toEqual(expect.arrayContaining(['demoted', 'progressing', 'completed']));
    expect((await meta())?.pausedBy).toBe('local:sre-1');
    expect((await run('resume', '--cluster', CLUSTER, '--reason', 'done')).code).toBe(0);
  });

  it("runs the cluster's rebuild hook once, then sees the node replicating from the primary", async () => {
    const calls: HookRequest[] = [];
    // The test's rebuild: what a real hook does by restoring a copy, done here with REPLICAOF on the target.
    const hook: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HookRequest;
        calls.push(request);
        const of = new URL(request.primary?.url ?? '');
        redisCommand(server(request.target.nodeId), ['REPLICAOF', of.hostname, of.port]).then(
          () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({ detail: `${request.target.nodeId} rebuilt from ${request.primary?.nodeId}` }),
            );
          },
          (error: Error) => {
            res.writeHead(500);
            res.end(error.message);
          },
        );
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = hook.address() as AddressInfo;
      await setMeta({ hooks: { rebuild: { type: 'https', url: `http://127.0.0.1:${port}/rebuild` } } });
      await redisCommand(server(third), ['REPLICAOF', server(second).host, String(server(second).port)]);
      await fixture.e2e.waitForNode(
        `${third} to report following ${second}`,
        third,
        (n) => n.sourceNodeId === second,
      );

      const result = await run('rebuild', '--cluster', CLUSTER, '--node', third, '--reason', 'disk replaced');

      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/rebuilt: redis-3 replicates from redis-1 \(asked by local:sre-1\)/);
      expect(result.code).toBe(0);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        action: 'rebuild',
        clusterId: CLUSTER,
        target: { nodeId: third },
        primary: { nodeId: primary },
      });
      await waitFor('redis-3 to follow redis-1 (INFO replication)', () =>
        follows(server(third), server(primary)),
      );
      const incident = await expectRecorded('rebuild', third, 'disk replaced', 'REBUILD');
      expect(stepsOf(incident)).toEqual(
        expect.arrayContaining(['verified', 'rebuild', 'progressing', 'completed']),
      );
      expect(stepsOf(incident)).not.toContain('rejoined');
    } finally {
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  });
});
