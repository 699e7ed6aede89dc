import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { applyClusterConfig } from '../../functions/adapters/cluster-config-store';
import { cachedSecretValue } from '../../functions/adapters/hooks';
import { PROBED_ENGINES } from '../../functions/adapters/probes';
import { keys, TABLE } from '../../functions/adapters/table-definition';
import { probeSchedule, probeTargets } from '../../functions/core/config/deployed-stack';
import { parseClusterConfig } from '../../functions/core/config/parse';
import type { ClusterConfig } from '../../functions/core/config/schema';
import { createHandler as createIngestHandler } from '../../functions/ingest-heartbeat/handler';
import { createHandler, type ProbeHandlerDeps, ProbeRunError } from '../../functions/probe/handler';
import { secretLogins } from '../../functions/probe/probe';
import { kinesisPublisher, type PutRecordsApi } from '../../functions/probe/publisher';
import { freePort } from '../../local/dynamodb-local';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { type RedisTopology, startRedisTopology } from '../support/servers';

const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/ReplicaSentinel-heartbeats';
const OBSERVER = 'probe-test';
const context = lambdaContext('probe');

type PutRecordsInput = Parameters<PutRecordsApi['putRecords']>[0];

/**
 * The heartbeats stream, in process: Kinesis has no local emulator, so the probe function's Kinesis client is
 * replaced at the PutRecords boundary only. Records it accepts are delivered, in the shape Lambda delivers
 * them, to the real ingest-heartbeat handler on DynamoDB Local; `refuse` picks the records a call refuses
 * (as Kinesis does under throttling: per record, with an ErrorCode).
 */
class InProcessStream implements PutRecordsApi {
  readonly calls: PutRecordsInput[] = [];
  readonly quarantine = new MemoryQuarantine();
  refuse: (call: number, index: number) => boolean = () => false;
  private readonly ingest;

  constructor(table: TestTable) {
    this.ingest = createIngestHandler(
      { store: table.store, quarantine: this.quarantine, sweepShards: TABLE.sweepShards },
      { logger: silentLogger('ingest-heartbeat') },
    );
  }

  async putRecords(input: PutRecordsInput) {
    const call = this.calls.push(input) - 1;
    const results = input.Records.map((_, i) =>
      this.refuse(call, i)
        ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
        : { SequenceNumber: `${call}-${i}` },
    );
    const accepted = input.Records.filter((_, i) => results[i]?.ErrorCode === undefined).map((record) =>
      kinesisRecord(Buffer.from(record.Data).toString('utf8'), record.PartitionKey),
    );
    if (accepted.length > 0) {
      const response = await this.ingest(kinesisEvent(accepted), context);
      expect(response).toEqual({ batchItemFailures: [] });
    }
    return { FailedRecordCount: results.filter((r) => r.ErrorCode !== undefined).length, Records: results };
  }

  /** The partition keys of call `n`. */
  partitionKeys(n: number): string[] {
    return (this.calls[n]?.Records ?? []).map((record) => record.PartitionKey);
  }
}

let table: TestTable;
let redis: RedisTopology;
let ghostPort: number;

beforeAll(async () => {
  [table, redis, ghostPort] = await Promise.all([createTestTable('probe'), startRedisTopology(), freePort()]);
});

afterAll(async () => {
  await Promise.all([table?.drop(), redis?.stop()]);
});

/** A deployed configuration of one Redis cluster: the real primary and replica, and a node nobody listens for. */
function configFor(clusterId: string): ClusterConfig {
  const [replica] = redis.replicas;
  if (replica === undefined) throw new Error('expected a replica');
  return parseClusterConfig(
    [
      'clusters:',
      `  - id: ${clusterId}`,
      '    engine: redis',
      '    mode: dry-run',
      '    nodes:',
      `      - { id: r1, url: "${redis.primary.endpoint.url}" }`,
      `      - { id: r2, url: "${replica.endpoint.url}", priority: 5 }`,
      `      - { id: ghost, url: "redis://127.0.0.1:${ghostPort}" }`,
      'probe:',
      '  enabled: true',
    ].join('\n'),
    'probe-test.yaml',
    { target: 'deployed', probedEngines: PROBED_ENGINES },
  );
}

let seq = Date.now();

/** The probe handler as index.ts builds it, with the stream and credentials of the test; one round per call. */
function probeHandler(
  clusterId: string,
  overrides: Partial<ProbeHandlerDeps> = {},
  config: ClusterConfig = configFor(clusterId),
) {
  const stream = new InProcessStream(table);
  const handler = createHandler(
    {
      targets: probeTargets(config, PROBED_ENGINES),
      observerId: OBSERVER,
      credentials: async () => undefined,
      publish: kinesisPublisher(stream, STREAM_ARN, { sleep: async () => undefined }),
      seq: () => ++seq,
      applyConfig: async () =>
        (
          await applyClusterConfig(table.client, table.tableName, config, Date.now(), {
            findClustersNotInFile: false,
          })
        ).text,
      ...overrides,
    },
    { roundSeconds: 10, windowSeconds: 10 },
    { logger: silentLogger('probe'), sleep: async () => undefined },
  );
  return { stream, invoke: () => handler({}, context) };
}

describe('the probe function on a real Redis primary and replica, into the real ingest handler', () => {
  it('puts one heartbeat per node on the stream, keyed by node id, and ingest records the roles and positions', async () => {
    const { stream, invoke } = probeHandler('cache-a');

    const report = await invoke();

    expect(report).toEqual({ rounds: 1, heartbeats: 3, unreachable: ['cache-a/ghost'] });
    expect(stream.calls).toHaveLength(1);
    expect(stream.partitionKeys(0)).toEqual(['r1', 'r2', 'ghost']);
    const primary = await table.getNode('cache-a', 'r1');
    const replica = await table.getNode('cache-a', 'r2');
    expect(primary).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(replica).toMatchObject({ role: 'replica', sourceNodeId: 'r1' });
    expect(replica?.observers[OBSERVER]).toMatchObject({ reachable: true, linkUp: true });
    expect(stream.quarantine.records).toEqual([]);
  });

  it('applies the cluster configuration to its META item (mode, nodes) at the first invocation', async () => {
    const { invoke } = probeHandler('cache-b');

    await invoke();

    const meta = (await table.clusterItems('cache-b')).find((item) => item.SK === keys.clusterMetaSk);
    expect(meta).toMatchObject({
      engine: 'redis',
      mode: 'dry-run',
      nodes: [
        { nodeId: 'r1', url: redis.primary.endpoint.url },
        { nodeId: 'r2', url: redis.replicas[0]?.endpoint.url, priority: 5 },
        { nodeId: 'ghost', url: `redis://127.0.0.1:${ghostPort}` },
      ],
    });
  });

  it('reports the node it cannot reach as an observation of the probe, not as a failure', async () => {
    const { stream, invoke } = probeHandler('cache-c');

    await expect(invoke()).resolves.toMatchObject({ unreachable: ['cache-c/ghost'] });

    const sent = JSON.parse(Buffer.from(stream.calls[0]?.Records[2]?.Data ?? []).toString('utf8'));
    expect(sent).toMatchObject({ nodeId: 'ghost', reachable: false, role: 'unknown', observerId: OBSERVER });
    const ghost = await table.getNode('cache-c', 'ghost');
    expect(ghost?.observers[OBSERVER]).toMatchObject({ reachable: false });
  });

  it('sends again exactly the records Kinesis refused, until they are taken', async () => {
    const { stream, invoke } = probeHandler('cache-d');
    // The first call refuses the replica's record, the second (its retry) refuses it once more.
    stream.refuse = (call, index) => call <= 1 && stream.partitionKeys(call)[index] === 'r2';

    await expect(invoke()).resolves.toMatchObject({ heartbeats: 3 });

    expect([0, 1, 2].map((n) => stream.partitionKeys(n))).toEqual([['r1', 'r2', 'ghost'], ['r2'], ['r2']]);
    expect(await table.getNode('cache-d', 'r2')).toMatchObject({ role: 'replica' });
  });

  it('fails the invocation, naming the error code, when records are still refused after every retry', async () => {
    const { stream, invoke } = probeHandler('cache-e');
    stream.refuse = (_call, index) => stream.partitionKeys(_call)[index] === 'r1';

    const error = await invoke().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(ProbeRunError);
    expect((error as Error).message).toMatch(
      /1 of 3 heartbeats were refused by the heartbeats stream after every retry \(ProvisionedThroughputExceededException\)/,
    );
    expect(stream.calls).toHaveLength(4); // the first call and 3 retries
    expect(await table.getNode('cache-e', 'r1')).toBeUndefined();
  });

  it('sends nothing for a cluster whose login cannot be read, so a missing permission never looks like a dead node', async () => {
    const { stream, invoke } = probeHandler('cache-f', {
      credentials: async () => {
        throw new Error('AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue');
      },
    });

    await expect(invoke()).rejects.toThrow(
      /cache-f: the database login could not be read, so nothing was probed: AccessDeniedException/,
    );

    expect(stream.calls).toEqual([]);
    expect(await table.getNode('cache-f', 'ghost')).toBeUndefined();
  });
});

describe("the probe function's rounds follow each cluster's heartbeatIntervalSeconds", () => {
  it('probes a 1 s cluster at every round and a 3 s cluster at every third, numbered from the epoch', async () => {
    // Prepare: two clusters on the real Redis pair, rounds every second (their gcd with 60) for 6 s.
    const config = parseClusterConfig(
      [
        'clusters:',
        ...[
          ['cadence-fast', '{ heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 3 }'],
          ['cadence-slow', '{ heartbeatIntervalSeconds: 3, heartbeatTimeoutSeconds: 9 }'],
        ].flatMap(([id, policy]) => [
          `  - id: ${id}`,
          '    engine: redis',
          '    mode: dry-run',
          `    policy: ${policy}`,
          '    nodes:',
          `      - { id: r1, url: "${redis.primary.endpoint.url}" }`,
          `      - { id: r2, url: "${redis.replicas[0]?.endpoint.url}" }`,
        ]),
        'probe:',
        '  enabled: true',
      ].join('\n'),
      'cadence.yaml',
      { target: 'deployed', probedEngines: PROBED_ENGINES },
    );
    const targets = probeTargets(config, PROBED_ENGINES);
    const schedule = config.probe && probeSchedule(targets, config.probe);
    expect(schedule).toEqual({ roundSeconds: 1, deadlineSeconds: 0.8 });
    // The invocation starts 1 s after a multiple of 3 s: rounds 1..6 after it, the slow cluster due at 2 and 5.
    let now = Math.ceil(Date.now() / 3000) * 3000 + 1000;
    const started = now;
    const stream = new InProcessStream(table);
    const handler = createHandler(
      {
        targets,
        observerId: OBSERVER,
        credentials: async () => undefined,
        publish: kinesisPublisher(stream, STREAM_ARN, { sleep: async () => undefined }),
        seq: () => ++seq,
        applyConfig: async () => 'not applied in this test',
      },
      { roundSeconds: 1, windowSeconds: 6 },
      {
        logger: silentLogger('probe'),
        clock: () => now,
        sleep: async (ms) => {
          now += ms;
        },
      },
    );

    // Act
    const report = await handler({}, context);

    // Assess: 6 rounds; each round's call names the clusters due, at the second it was due.
    expect(report).toEqual({ rounds: 6, heartbeats: 6 * 2 + 2 * 2, unreachable: [] });
    const rounds = stream.calls.map((call) =>
      call.Records.map((record) => {
        const hb = JSON.parse(Buffer.from(record.Data).toString('utf8'));
        return `${(Math.floor(Date.parse(hb.observedAt) / 1000) * 1000 - started) / 1000}s ${hb.clusterId}/${hb.nodeId}`;
      }),
    );
    expect(rounds).toEqual(
      [0, 1, 2, 3, 4, 5].map((second) => [
        `${second}s cadence-fast/r1`,
        `${second}s cadence-fast/r2`,
        ...(second === 2 || second === 5 ? [`${second}s cadence-slow/r1`, `${second}s cadence-slow/r2`] : []),
      ]),
    );
  });
});

describe('the probe function on a Redis whose password is rotated', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cache-login-AbCdEf';
  let locked: RedisTopology;
  /** The password Secrets Manager holds, and how many times the function read it. */
  let stored: string;
  let reads: number;

  beforeAll(async () => {
    locked = await startRedisTopology({ replicas: 0, prefix: 'locked' });
  });
  afterAll(async () => {
    await locked?.stop();
  });

  /** Sets the server's password, logged in with the current one (none at first). */
  async function setServerPassword(current: string | undefined, next: string): Promise<void> {
    const { host, port } = locked.primary;
    const admin = createClient({
      socket: { host, port },
      password: current,
    });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.sendCommand(['CONFIG', 'SET', 'requirepass', next]);
    } finally {
      admin.destroy();
    }
  }

  /** The handler with index.ts's logins: the real cache, over a secret source that counts its reads. */
  function rotatingHandler(clusterId: string) {
    const config = parseClusterConfig(
      [
        'clusters:',
        `  - id: ${clusterId}`,
        '    engine: redis',
        '    mode: dry-run',
        `    credentialsSecretArn: ${SECRET_ARN}`,
        '    nodes:',
        `      - { id: r1, url: "redis://127.0.0.1:${locked.primary.port}" }`,
        `      - { id: ghost, url: "redis://127.0.0.1:${ghostPort}" }`,
        'probe:',
        '  enabled: true',
      ].join('\n'),
      'probe-rotation.yaml',
      { target: 'deployed', probedEngines: PROBED_ENGINES },
    );
    const secretValue = cachedSecretValue(async () => {
      reads++;
      return JSON.stringify({ password: stored });
    });
    return probeHandler(clusterId, secretLogins(secretValue), config);
  }

  async function rejectionOf(invoke: () => Promise<unknown>): Promise<unknown> {
    return invoke().then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  it('sends no heartbeat for a node that refused the cached login, fails the round naming it, and reads the secret again at the next round', async () => {
    reads = 0;
    stored = 'first-pass-3d1e';
    await setServerPassword(undefined, stored);
    const { stream, invoke } = rotatingHandler('rotated-a');
    await expect(invoke()).resolves.toMatchObject({ heartbeats: 2, unreachable: ['rotated-a/ghost'] });
    // Rotation: the server and the secret take the new password; the function still holds the old one.
    await setServerPassword(stored, 'second-pass-8b0c');
    stored = 'second-pass-8b0c';

    const error = await rejectionOf(invoke);
    const readsAfterRefusal = reads;
    const after = await invoke();

    expect(error).toBeInstanceOf(ProbeRunError);
    expect((error as ProbeRunError).report).toEqual({
      rounds: 1,
      heartbeats: 1,
      unreachable: ['rotated-a/ghost'],
    });
    expect((error as Error).message).toMatch(
      /rotated-a: node r1 answered but refused the probe \(authentication\): WRONGPASS/,
    );
    expect((error as Error).message).not.toMatch(/first-pass|second-pass/);
    expect(readsAfterRefusal).toBe(1);
    expect(after).toEqual({ rounds: 1, heartbeats: 2, unreachable: ['rotated-a/ghost'] });
    expect(reads).toBe(2);
    // The refused round sent the closed port's reachable:false, and nothing for r1.
    expect([0, 1, 2].map((n) => stream.partitionKeys(n))).toEqual([
      ['r1', 'ghost'],
      ['ghost'],
      ['r1', 'ghost'],
    ]);
    const node = await table.getNode('rotated-a', 'r1');
    expect(node?.observers[OBSERVER]).toMatchObject({ reachable: true });
  });

  it('reads a secret that stays wrong once more after the refusal, not at every round', async () => {
    reads = 0;
    await setServerPassword(stored, 'third-pass-c4a9');
    stored = 'not-the-server-password';
    const { stream, invoke } = rotatingHandler('rotated-b');

    const errors = [await rejectionOf(invoke), await rejectionOf(invoke), await rejectionOf(invoke)];

    for (const error of errors) expect(error).toBeInstanceOf(ProbeRunError);
    expect(reads).toBe(2);
    expect(stream.calls.map((_, n) => stream.partitionKeys(n))).toEqual([['ghost'], ['ghost'], ['ghost']]);
    expect(await table.getNode('rotated-b', 'r1')).toBeUndefined();
  });
});
