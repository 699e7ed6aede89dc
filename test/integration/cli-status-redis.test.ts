import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClusterConfigSchema } from '../../functions/core/config/schema';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import { follows } from '../../local/redis-servers';
import { type HeartbeatSink, watch } from '../../local/watch';
import { cli, tableArgs } from '../support/cli';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { ingestOn } from '../support/handlers';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { type RedisTopology, redisCommand, redisInfo, startRedisTopology, waitFor } from '../support/servers';

const silent = silentLogger();
const context = lambdaContext();

/**
 * `status` on real Redis servers probed by `watch`, their heartbeats folded by the real ingest-heartbeat
 * handler into DynamoDB Local: a chained replica hangs under the replica it follows; once that replica is
 * made a primary of its own, the tree shows a second writable root and the chained replica as an orphan.
 */
describe('replica-sentinel status on real Redis servers', () => {
  let redis: RedisTopology;
  let table: TestTable;
  let target: string[];
  let sink: HeartbeatSink;
  const config = () =>
    ClusterConfigSchema.parse({
      clusters: [
        {
          id: 'live',
          engine: 'redis',
          mode: 'off',
          nodes: [redis.primary, ...redis.replicas].map((n) => ({ id: n.nodeId, url: n.endpoint.url })),
        },
      ],
    });
  /** One probe round of every node into the table. */
  const probeOnce = () =>
    watch({
      config: config(),
      client: table.client,
      tableName: table.tableName,
      sink,
      intervalMs: 1000,
      rounds: 1,
      print: () => {},
    });
  /** Probes until the stored node matches (the probe, not the server, is what status reads). */
  const probeUntil = (what: string, match: () => Promise<boolean>) =>
    waitFor(
      what,
      async () => {
        await probeOnce();
        return match();
      },
      { timeoutMs: 45_000, intervalMs: 200 },
    );

  beforeAll(async () => {
    redis = await startRedisTopology({ replicas: 2, prefix: 'live' });
    table = await createTestTable('cli-status-redis');
    target = tableArgs(table);
    const quarantine = new MemoryQuarantine();
    const ingest = ingestOn(table, { logger: silent }, quarantine);
    sink = {
      async send(heartbeats) {
        const before = quarantine.records.length;
        const response = await ingest(kinesisEvent(heartbeats.map((hb) => kinesisRecord(hb))), context);
        if (response.batchItemFailures.length > 0) throw new Error('ingest-heartbeat failed a record');
        const quarantined = quarantine.records.slice(before).map((r) => JSON.stringify(r));
        return { accepted: heartbeats.length - quarantined.length, quarantined };
      },
    };
  }, 120_000);
  afterAll(async () => {
    await redis?.stop();
    await table?.drop();
  });

  it('shows a chained replica under the replica it follows, nothing marked', async () => {
    const [second, third] = redis.replicas;
    if (!second || !third) throw new Error('expected two replicas');
    await redisCommand(third, ['REPLICAOF', '127.0.0.1', String(second.port)]);
    await waitFor('live-3 to link to live-2', () => follows(third, second), { timeoutMs: 30_000 });
    await probeUntil(
      'live-3 to be stored following live-2',
      async () => (await table.getNode('live', 'live-3'))?.sourceNodeId === 'live-2',
    );

    const text = await cli(['status', '--cluster', 'live', ...target]);

    expect(text).toMatchObject({ code: 0, stderr: '' });
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^cluster live {2}mode off {2}epoch 0 {2}primary live-1 \(not recorded yet\) {2}lock free/,
    );
    expect(lines.slice(1).map((l) => l.slice(2, lines[1]?.indexOf('ROLE')).trimEnd())).toEqual([
      'NODE',
      'live-1',
      '└─ live-2',
      '   └─ live-3',
    ]);
    expect(text.stdout).not.toContain('!!');
  });

  it('marks the replica made a primary of its own as split brain and its chained replica as an orphan', async () => {
    const [second] = redis.replicas;
    if (!second) throw new Error('expected two replicas');
    await redisCommand(second, ['REPLICAOF', 'NO', 'ONE']);
    await waitFor(
      'live-2 to answer as a primary',
      async () => (await redisInfo(second)).get('role') === 'master',
      {
        timeoutMs: 30_000,
      },
    );
    await probeUntil(
      'live-2 to be stored as a primary',
      async () => (await table.getNode('live', 'live-2'))?.role === 'primary',
    );

    const text = await cli(['status', '--cluster', 'live', ...target]);
    const json = await cli(['status', '--cluster', 'live', '--json', ...target]);

    expect(text).toMatchObject({ code: 0, stderr: '' });
    const lines = text.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => l.startsWith('  NODE'));
    expect(lines.slice(header).map((l) => l.slice(2, lines[header]?.indexOf('ROLE')).trimEnd())).toEqual([
      'NODE',
      'live-1',
      'live-2',
      '└─ live-3',
    ]);
    expect(lines.find((l) => l.startsWith('  live-2 '))).toMatch(
      /!! SPLIT BRAIN: a second writable primary: live-1 is the primary \(none recorded yet\)$/,
    );
    expect(lines.find((l) => l.includes('└─ live-3 '))).toMatch(
      /!! ORPHAN: follows live-2 \(\w+\), not the primary/,
    );
    const doc = JSON.parse(json.stdout) as {
      clusters: { splitBrain: string[]; orphans: string[] }[];
      nodes: { nodeId: string; role: string; follows: string | null }[];
    };
    expect(doc.nodes.map((n) => [n.nodeId, n.role, n.follows])).toEqual([
      ['live-1', 'primary', null],
      ['live-2', 'primary', null],
      ['live-3', 'replica', 'live-2'],
    ]);
    expect(doc.clusters[0]).toMatchObject({ splitBrain: ['live-2'], orphans: ['live-3'] });
  });
});
