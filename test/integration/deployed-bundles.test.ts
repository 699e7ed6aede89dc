import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import type { DynamoDBRecord } from 'aws-lambda';
import { keys, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { type TemplateFunction, templateFunctions } from '../../infra/template-functions';
import { templateResources } from '../../infra/template-references';
import { matchesFilter } from '../../local/event-filter';
import { type RedisTopology, startRedisTopology } from '../../local/redis-servers';
import { StreamPoller } from '../../local/stream-poller';
import { loadEvent } from '../fixtures/events';
import { ALL_OPTIONS_CONTEXT, type TestApp, testApp } from '../infra/support';
import { startAwsStandIn } from '../support/aws-stand-in';
import { createTestTable, localEndpoint, type TestTable } from '../support/dynamodb';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { openIncident, runbookInput, seedCluster } from '../support/runbooks';
import { snsEvent } from '../support/sns';
import { selfSignedCertificate } from '../support/tls';
import { startWebhookServer } from '../support/webhook-server';

/**
 * The deployed form, run (issue 13, items 8 and 9): the app is synthesized with bundling as `cdk deploy`
 * does it (with the optional change stream and Slack webhook, so that every function is there), and each
 * function's esbuild bundle (the asset it uploads) is imported in its own Node.js process with the
 * environment the template gives that function. References to other resources are replaced by local ones:
 * the table by a table of DynamoDB Local, queues, topics, state machines and secrets by a stand-in on
 * 127.0.0.1 (test/support/aws-stand-in.ts) that the bundle's AWS SDK reaches through the SDK's own
 * AWS_ENDPOINT_URL_<SERVICE> variables, and the Slack webhook by an HTTPS stand-in. Every bundle must load
 * and take the events AWS delivers to it, in their real shape, and do its work: a rehearsal of a deployment
 * (sweep's: one sweep per invocation of the sweep machine, answering the next slot).
 */
const run = promisify(execFile);
const SLACK_SECRET_ARN = ALL_OPTIONS_CONTEXT.slackWebhookSecretArn;
let app: TestApp | undefined;
let table: TestTable | undefined;
let aws: Awaited<ReturnType<typeof startAwsStandIn>> | undefined;
let slack: Awaited<ReturnType<typeof startWebhookServer>> | undefined;
let certificate: Awaited<ReturnType<typeof selfSignedCertificate>> | undefined;
let poller: StreamPoller | undefined;
let redis: RedisTopology | undefined;
let configDirectory: string | undefined;
const PROBED_CLUSTER = 'rehearsal-probed';
let functions: TemplateFunction[] = [];

beforeAll(async () => {
  certificate = await selfSignedCertificate();
  [table, slack] = await Promise.all([
    createTestTable('bundles'),
    startWebhookServer([{ status: 200 }], { tls: certificate }),
  ]);
  aws = await startAwsStandIn({ [SLACK_SECRET_ARN]: slack.url });
  poller = new StreamPoller(localEndpoint(), table.tableName);
  await poller.start('TRIM_HORIZON');
  // The probe function's configuration: one Redis cluster of real servers, probed by the probe bundle.
  redis = await startRedisTopology({ replicas: 1, prefix: 'bundles' });
  configDirectory = mkdtempSync(join(tmpdir(), 'replica-sentinel-bundles-'));
  const config = join(configDirectory, 'clusters.yaml');
  writeFileSync(
    config,
    [
      'clusters:',
      `  - id: ${PROBED_CLUSTER}`,
      '    engine: redis',
      '    mode: dry-run',
      '    nodes:',
      `      - { id: r1, url: "${redis.primary.endpoint.url}" }`,
      `      - { id: r2, url: "${redis.replicas[0]?.endpoint.url}" }`,
      'probe:',
      '  enabled: true',
      '',
    ].join('\n'),
  );
  app = testApp({
    bundling: true,
    context: { changeStreams: 'true', slackWebhookSecretArn: SLACK_SECRET_ARN, config },
  });
  const template = Template.fromStack(app.stack).toJSON();
  // The table is ours (templateFunctions), queues are queues of the stand-in, topics and streams ARNs of theirs.
  const standIns: Record<string, string> = {};
  for (const [id, r] of Object.entries(templateResources(template))) {
    if (r.Type === 'AWS::SQS::Queue') standIns[id] = aws.queueUrl(id);
    else if (r.Type === 'AWS::SNS::Topic') standIns[id] = `arn:aws:sns:us-east-1:123456789012:${id}`;
    else if (r.Type === 'AWS::Kinesis::Stream')
      standIns[`${id}.Arn`] = `arn:aws:kinesis:us-east-1:123456789012:stream/${id}`;
  }
  functions = templateFunctions(template, app.outdir, table.tableName, standIns);
}, 600_000);

afterAll(async () => {
  app?.cleanup();
  poller?.close();
  await Promise.all([table?.drop(), aws?.close(), slack?.close(), redis?.stop()]);
  certificate?.remove();
  if (configDirectory) rmSync(configDirectory, { recursive: true, force: true });
});

/** The function of the template whose service is `service`. */
function bundleOf(service: string): (typeof functions)[number] {
  const fn = functions.find((f) => f.service === service);
  if (fn === undefined) throw new Error(`no ${service} function in the template`);
  return fn;
}

/** Runs `script` (an ES module body with `handler` imported from the bundle) with the function's env. */
async function inBundle(fn: (typeof functions)[number], script: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', `import { handler } from ${JSON.stringify(fn.entry)};\n${script}`],
    {
      env: {
        PATH: process.env.PATH,
        ...fn.env,
        ...aws?.endpointEnv,
        // The HTTPS Slack stand-in's certificate, trusted by this process only.
        ...(certificate ? { NODE_EXTRA_CA_CERTS: certificate.certFile } : {}),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: localEndpoint(),
        AWS_LAMBDA_FUNCTION_NAME: fn.service,
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.service}`,
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      timeout: 60_000,
    },
  );
  return stdout;
}

const RESULT = 'BUNDLE-RESULT ';

/**
 * Invokes the bundle's handler on `event` in a child process, as Lambda does (a context with the time
 * left), and returns what it resolved with, or the message it threw.
 */
async function invoke(
  service: string,
  event: unknown,
  remainingMs = 30_000,
): Promise<{ result?: unknown; error?: string }> {
  const fn = bundleOf(service);
  const out = await inBundle(
    fn,
    `const context = {
  functionName: ${JSON.stringify(fn.service)},
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:${fn.service}',
  memoryLimitInMB: '256',
  awsRequestId: 'rehearsal-${Date.now()}',
  logGroupName: '/aws/lambda/${fn.service}',
  logStreamName: 'rehearsal',
  callbackWaitsForEmptyEventLoop: true,
};
const deadline = Date.now() + ${remainingMs};
context.getRemainingTimeInMillis = () => deadline - Date.now();
let answer;
try {
  answer = { result: (await handler(${JSON.stringify(event)}, context)) ?? null };
} catch (error) {
  answer = { error: error instanceof Error ? error.message : String(error) };
}
console.log(${JSON.stringify(RESULT)} + JSON.stringify(answer));`,
  );
  const line = out.split('\n').find((l) => l.startsWith(RESULT));
  if (line === undefined) throw new Error(`${service} printed no result:\n${out}`);
  return JSON.parse(line.slice(RESULT.length)) as { result?: unknown; error?: string };
}

/** The event an EventBridge schedule rule delivers to its target. */
function scheduledEvent(rule: string) {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:123456789012:rule/ReplicaSentinel-${rule}`],
    detail: {},
  };
}

/** Polls `check` until it returns a value, for at most `ms` (a generous deadline, never a fixed sleep). */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the bundles cdk deploy uploads', () => {
  it('every function bundle loads with the environment its template gives it', async () => {
    expect(functions.map((f) => f.service).sort()).toEqual(
      expect.arrayContaining([
        'ingest-change-stream',
        'ingest-heartbeat',
        'notify-slack',
        'on-transition',
        'operator',
        'probe',
        'runbook-steps',
        'sweep',
      ]),
    );
    for (const fn of functions) {
      const out = await inBundle(fn, 'console.log(typeof handler);');
      expect([fn.service, out.trim().split('\n').at(-1)]).toEqual([fn.service, 'function']);
    }
  });
});

describe('a rehearsal: each bundle on the events AWS delivers, one child process per invocation', () => {
  const clusterId = 'rehearsal';
  const heartbeat = (nodeId: string, extra: object) => ({
    v: 1,
    clusterId,
    nodeId,
    engine: 'postgresql',
    seq: 1,
    observedAt: new Date().toISOString(),
    ...extra,
  });

  it("probe: the scheduler's event probes the configured Redis pair and puts the heartbeats on the stream, which ingest-heartbeat takes", async () => {
    const before = aws?.calls.length ?? 0;

    // Act: one round (too little time left in the invocation to wait for the next one).
    const answer = await invoke('probe', scheduledEvent('Probes-Schedule'), 12_000);

    // Assess
    expect(answer).toEqual({ result: { rounds: 1, heartbeats: 2, unreachable: [] } });
    const puts = (aws?.calls.slice(before) ?? []).filter((c) => c.service === 'kinesis');
    expect(puts.map((c) => c.action)).toEqual(['PutRecords']);
    const sent = (puts[0]?.params.Records ?? []) as { Data: string; PartitionKey: string }[];
    expect(sent.map((r) => r.PartitionKey)).toEqual(['r1', 'r2']);
    // The same records, as Lambda delivers them from the stream, into the ingest bundle.
    const delivered = await invoke(
      'ingest-heartbeat',
      kinesisEvent(sent.map((r) => kinesisRecord(Buffer.from(r.Data, 'base64'), r.PartitionKey))),
    );
    expect(delivered).toEqual({ result: { batchItemFailures: [] } });
    expect(await table?.getNode(PROBED_CLUSTER, 'r1')).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(await table?.getNode(PROBED_CLUSTER, 'r2')).toMatchObject({ role: 'replica', sourceNodeId: 'r1' });
    // The function applied the file to the cluster's item at its first invocation.
    const meta = (await table?.clusterItems(PROBED_CLUSTER))?.find((item) => item.SK === keys.clusterMetaSk);
    expect(meta).toMatchObject({ mode: 'dry-run', engine: 'redis' });
  });

  it('ingest-heartbeat: a Kinesis batch with bad records among good ones writes the good ones and quarantines exactly the bad ones', async () => {
    // Prepare: a cluster whose nodes are silent 2 s after their last heartbeat (for the sweep below).
    await table?.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          PK: keys.clusterPk(clusterId),
          SK: keys.clusterMetaSk,
          type: 'cluster',
          clusterId,
          engine: 'postgresql',
          mode: 'dry-run',
          policy: { heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 2 },
          nodes: [
            { nodeId: 'pg-1', url: 'postgresql://127.0.0.1:1/app' },
            { nodeId: 'pg-2', url: 'postgresql://127.0.0.1:2/app' },
          ],
        },
      }),
    );
    const records = [
      kinesisRecord(heartbeat('pg-1', { role: 'primary', position: '0/303DD40' }), 'pg-1'),
      kinesisRecord('{"v":1,"clusterId":"rehearsal",', 'pg-1'),
      kinesisRecord(
        heartbeat('pg-2', {
          role: 'replica',
          replication: { sourceNodeId: 'pg-1', linkUp: true, appliedPosition: '0/303DD40', lagSeconds: 0 },
        }),
        'pg-2',
      ),
      kinesisRecord({ v: 1, clusterId, nodeId: 'pg-3', engine: 'postgresql', role: 'leader' }, 'pg-3'),
    ];
    const bad = [records[1], records[3]].map((r) => r?.eventID);
    const before = aws?.calls.length ?? 0;

    // Act
    const answer = await invoke('ingest-heartbeat', kinesisEvent(records));

    // Assess
    expect(answer).toEqual({ result: { batchItemFailures: [] } });
    const quarantined = (aws?.calls.slice(before) ?? [])
      .filter((c) => c.service === 'sqs' && c.action === 'SendMessageBatch')
      .flatMap((c) => c.params.Entries as { MessageAttributes: { eventId: { StringValue: string } } }[])
      .map((entry) => entry.MessageAttributes.eventId.StringValue);
    expect(quarantined).toEqual(bad);
    expect(await table?.getNode(clusterId, 'pg-1')).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(await table?.getNode(clusterId, 'pg-2')).toMatchObject({ role: 'replica', sourceNodeId: 'pg-1' });
    expect(await table?.getNode(clusterId, 'pg-3')).toBeUndefined();
  });

  it('ingest-change-stream: a Kinesis batch of Debezium events with a bad one moves the source head and quarantines the bad one', async () => {
    // Prepare
    const fixture = loadEvent<{ payload: { source: { name: string } } }>('debezium-postgres-update');
    const source = fixture.payload.source.name;
    const records = [kinesisRecord({ hello: 'world' }, 'orders'), kinesisRecord(fixture, 'orders')];
    const before = aws?.calls.length ?? 0;

    // Act
    const answer = await invoke('ingest-change-stream', kinesisEvent(records));

    // Assess
    expect(answer).toEqual({ result: { batchItemFailures: [] } });
    const quarantined = (aws?.calls.slice(before) ?? [])
      .filter((c) => c.service === 'sqs' && c.action === 'SendMessageBatch')
      .flatMap((c) => c.params.Entries as { MessageAttributes: { eventId: { StringValue: string } } }[])
      .map((entry) => entry.MessageAttributes.eventId.StringValue);
    expect(quarantined).toEqual([records[0]?.eventID]);
    const heads = (await table?.clusterItems(source))?.filter((item) =>
      String(item.SK).startsWith('SOURCE#'),
    );
    expect(heads).toHaveLength(1);
  });

  it("sweep: the sweep machine's invocation (the schedule's window start) marks the overdue nodes SILENT", async () => {
    // What the schedule gives the sweep machine and the machine passes on to its first invocation: the
    // window's start. Each invocation sweeps once; the nodes fall due 2 s after their heartbeat.
    const silent = await eventually(async () => {
      const answer = await invoke('sweep', { windowStart: new Date().toISOString() }, 8_000);
      expect(answer.error).toBeUndefined();
      const nodes = await Promise.all(['pg-1', 'pg-2'].map((n) => table?.getNode(clusterId, n)));
      return nodes.every((n) => n?.status === 'SILENT') ? nodes : undefined;
    }, 'the sweep bundle to mark both nodes SILENT');
    expect(silent.map((n) => n?.status)).toEqual(['SILENT', 'SILENT']);
  });

  let published: string | undefined;

  it("on-transition: the table stream's records of those transitions open incidents and publish them", async () => {
    // Prepare: the records DynamoDB Local's stream holds, as the event source mapping's filter passes them.
    const toSilent = await eventually(async () => {
      const records = (await poller?.poll()) ?? [];
      const mine = records.filter(
        (r) =>
          r.dynamodb?.Keys?.PK?.S === keys.clusterPk(clusterId) &&
          matchesFilter(TRANSITION_FILTER_PATTERN, r) &&
          r.dynamodb?.NewImage?.transitionTo?.S === 'SILENT',
      );
      return mine.length > 0 ? mine : undefined;
    }, 'the SILENT transitions on the table stream');
    expect(toSilent[0]?.dynamodb?.OldImage).toBeDefined();
    const before = aws?.calls.length ?? 0;

    // Act
    const answer = await invoke('on-transition', { Records: toSilent satisfies DynamoDBRecord[] });

    // Assess
    expect(answer).toEqual({ result: { batchItemFailures: [] } });
    const incidents = (await table?.clusterItems(clusterId))?.filter((item) =>
      String(item.SK).startsWith('INCIDENT#'),
    );
    expect(incidents?.length).toBeGreaterThan(0);
    expect(incidents?.[0]).toMatchObject({ kind: 'SILENT', state: 'OPEN' });
    const publishes = (aws?.calls.slice(before) ?? []).filter(
      (c) => c.service === 'sns' && c.action === 'Publish',
    );
    expect(publishes.length).toBeGreaterThan(0);
    published = String(publishes[0]?.params.Message);
    expect(JSON.parse(published)).toMatchObject({
      version: '1.0',
      source: 'custom',
      metadata: { eventType: 'incident-opened', additionalContext: { clusterId, kind: 'SILENT' } },
    });
  });

  it("notify-slack: SNS events carrying our notifier's message and a CloudWatch alarm are posted to the webhook", async () => {
    if (published === undefined) throw new Error('on-transition published nothing');
    const alarm = loadEvent<{ Records: { Sns: { Message: string } }[] }>('sns-cloudwatch-alarm');
    const before = slack?.received.length ?? 0;

    // Act
    const ours = await invoke('notify-slack', snsEvent(published, 'rehearsal-ours'));
    const theirs = await invoke('notify-slack', alarm);

    // Assess: nothing thrown, two posts, each naming what it is about.
    expect([ours, theirs]).toEqual([{ result: null }, { result: null }]);
    const posts = slack?.received.slice(before).map((r) => JSON.stringify(r.body)) ?? [];
    expect(posts).toHaveLength(2);
    expect(posts[0]).toContain(clusterId);
    expect(posts[1]).toContain('ReplicaSentinel-ObservabilitySweepNotRunning8F2D1C4B-1QW2E3R4T5Y6');
    expect(posts[1]).toContain('ALARM');
  });

  it('operator: API Gateway proxy requests get the right status (pause: 200 and recorded; an unknown incident: 404)', async () => {
    const caller = 'arn:aws:iam::123456789012:user/rehearsal-operator';
    const request = (
      resource: string,
      path: string,
      pathParameters: Record<string, string>,
      body: object,
    ) => ({
      resource,
      path,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json', Host: 'abc123.execute-api.us-east-1.amazonaws.com' },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters,
      stageVariables: null,
      requestContext: {
        accountId: '123456789012',
        apiId: 'abc123',
        resourcePath: resource,
        httpMethod: 'POST',
        path: `/prod${path}`,
        stage: 'prod',
        requestId: 'rehearsal',
        requestTimeEpoch: Date.now(),
        protocol: 'HTTP/1.1',
        identity: {
          userArn: caller,
          caller: 'AIDAEXAMPLE',
          sourceIp: '127.0.0.1',
          accountId: '123456789012',
        },
        authorizer: null,
      },
      body: JSON.stringify(body),
      isBase64Encoded: false,
    });

    const pause = await invoke(
      'operator',
      request(
        '/clusters/{clusterId}/pause',
        `/clusters/${clusterId}/pause`,
        { clusterId },
        { reason: 'rehearsal' },
      ),
    );
    const approve = await invoke(
      'operator',
      request(
        '/incidents/{clusterId}/{incidentId}/approve',
        `/incidents/${clusterId}/no-such-incident/approve`,
        { clusterId, incidentId: 'no-such-incident' },
        {},
      ),
    );

    expect((pause.result as { statusCode: number }).statusCode).toBe(200);
    expect((approve.result as { statusCode: number }).statusCode).toBe(404);
    const meta = (await table?.clusterItems(clusterId))?.find((item) => item.SK === keys.clusterMetaSk);
    expect(meta).toMatchObject({ pausedBy: caller, pausedReason: 'rehearsal' });
  });

  it('runbook-steps: a runbook task input (reverify of a stalled replica) gives the next value', async () => {
    if (table === undefined) throw new Error('no table');
    const at = Date.now();
    await seedCluster(table, { clusterId: 'rehearsal-steps', mode: 'auto' }, at);
    const incident = await openIncident(table, 'rehearsal-steps', 'pg-2', 'replica', 'STALLED', at);
    const state = runbookInput(incident);

    const answer = await invoke('runbook-steps', { action: 'reverify', state });

    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ ...state, next: 'proceed', mode: 'auto' });
  });

  it("sweep's bundle sweeps once per invocation and answers its window's next slot, as the sweep machine invokes it", async () => {
    const fn = functions.find((f) => f.service === 'sweep');
    if (fn === undefined) throw new Error('no sweep function in the template');
    expect(fn.env.SWEEP_INTERVAL_SECONDS).toBe('10');
    // A window that begins in an hour: however slow this machine, no slot has passed, so each answer is the
    // slot after the one swept (no timing in the test).
    const windowStart = new Date(Date.now() + 3_600_000).toISOString();
    const out = await inBundle(
      fn,
      `const context = { functionName: 'sweep', awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 60000 };
const first = await handler({ windowStart: ${JSON.stringify(windowStart)} }, context);
const second = await handler(first, context);
console.log(JSON.stringify([first, second]));`,
    );
    const [first, second] = JSON.parse(out.trim().split('\n').at(-1) ?? '[]') as Array<
      Record<string, unknown>
    >;
    const slot = (k: number) => new Date(Date.parse(windowStart) + k * 10_000).toISOString();
    expect(first).toMatchObject({
      windowStart,
      index: 1,
      at: slot(1),
      done: false,
      swept: { index: 0, lostRaces: 0 },
    });
    expect(second).toMatchObject({ windowStart, index: 2, at: slot(2), done: false, swept: { index: 1 } });
  });
});
