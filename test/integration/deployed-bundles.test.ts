import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { type TestApp, testApp } from '../infra/support';
import { createTestTable, localEndpoint, type TestTable } from '../support/dynamodb';

/**
 * The deployed form, run: the app is synthesized with bundling as `cdk deploy` does it, and each function's
 * esbuild bundle (the asset it uploads) is imported in its own Node.js process with the environment the
 * template gives that function (references to other resources replaced by stand-ins, the table by a table
 * of DynamoDB Local). Every bundle must load; ingest-heartbeat's must also take a real Kinesis event and
 * write the node to the table, and sweep's must sweep once per invocation and answer the next slot.
 */
const run = promisify(execFile);
let app: TestApp | undefined;
let table: TestTable | undefined;
let functions: { id: string; service: string; entry: string; env: Record<string, string> }[] = [];

/**
 * A template value as a string: a reference to the table is our table; any other reference, attribute or
 * substitution a stand-in ARN of the right shape; joins joined.
 */
function standIn(value: unknown, tableId: string, tableName: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    if (v.Ref === tableId) return tableName;
    if (v.Ref.startsWith('AWS::'))
      return v.Ref === 'AWS::Region' ? 'us-east-1' : v.Ref === 'AWS::AccountId' ? '123456789012' : 'aws';
    return `arn:aws:states:us-east-1:123456789012:stateMachine:${v.Ref}`;
  }
  if (Array.isArray(v['Fn::GetAtt']))
    return `arn:aws:lambda:us-east-1:123456789012:function:${String(v['Fn::GetAtt'][0])}`;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => standIn(part, tableId, tableName)).join(separator);
  }
  if (typeof v['Fn::Sub'] === 'string') return v['Fn::Sub'].replace(/\$\{[^}]+\}/g, 'stand-in');
  return 'stand-in';
}

beforeAll(async () => {
  table = await createTestTable('bundles');
  app = testApp({ bundling: true });
  type Resource = { Type: string; Properties?: Record<string, unknown> };
  const template = Template.fromStack(app.stack).toJSON() as { Resources: Record<string, Resource> };
  const tableId = Object.entries(template.Resources).find(
    ([, r]) => r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table',
  )?.[0];
  // A bundled function's code is the asset `asset.<hash>` of the cloud assembly, uploaded as `<hash>.zip`.
  const assetOf = (r: Resource) =>
    String((r.Properties?.Code as { S3Key?: unknown })?.S3Key ?? '').replace(/\.zip$/, '');
  functions = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && assetOf(r) !== '')
    .map(([id, r]) => {
      const variables = ((r.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables ??
        {}) as Record<string, unknown>;
      const env = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => [k, standIn(v, tableId ?? '', table?.tableName ?? '')]),
      );
      return {
        id,
        service: env.POWERTOOLS_SERVICE_NAME ?? id,
        entry: join(app?.outdir ?? '', `asset.${assetOf(r)}`, 'index.mjs'),
        env,
      };
    });
}, 600_000);

afterAll(async () => {
  app?.cleanup();
  await table?.drop();
});

/** Runs `script` (an ES module body with `handler` imported from the bundle) with the function's env. */
async function inBundle(fn: (typeof functions)[number], script: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', `import { handler } from ${JSON.stringify(fn.entry)};\n${script}`],
    {
      env: {
        PATH: process.env.PATH,
        ...fn.env,
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

describe('the bundles cdk deploy uploads', () => {
  it('every function bundle loads with the environment its template gives it', async () => {
    expect(functions.map((f) => f.service).sort()).toEqual(
      expect.arrayContaining(['ingest-heartbeat', 'on-transition', 'operator', 'runbook-steps', 'sweep']),
    );
    for (const fn of functions) {
      const out = await inBundle(fn, 'console.log(typeof handler);');
      expect([fn.service, out.trim().split('\n').at(-1)]).toEqual([fn.service, 'function']);
    }
  });

  it("ingest-heartbeat's bundle takes a Kinesis event and writes the node to the table", async () => {
    const fn = functions.find((f) => f.service === 'ingest-heartbeat');
    if (fn === undefined) throw new Error('no ingest-heartbeat function in the template');
    const heartbeat = {
      v: 1,
      clusterId: 'bundle-pg',
      nodeId: 'pg-1',
      engine: 'postgresql',
      role: 'primary',
      seq: 1,
      observedAt: new Date().toISOString(),
      position: '0/303DD40',
    };
    const event = {
      Records: [
        {
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: 'pg-1',
            sequenceNumber: '49657394587561938472055961345072093416742906938532839426',
            data: Buffer.from(JSON.stringify(heartbeat)).toString('base64'),
            approximateArrivalTimestamp: Date.now() / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: 'shardId-000000000000:49657394587561938472055961345072093416742906938532839426',
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'arn:aws:iam::123456789012:role/ingest',
          awsRegion: 'us-east-1',
          eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/heartbeats',
        },
      ],
    };
    const context = {
      functionName: 'ingest-heartbeat',
      awsRequestId: 'bundle-test',
      getRemainingTimeInMillis: () => 30_000,
    };
    const out = await inBundle(
      fn,
      `const context = ${JSON.stringify(context).replace('"getRemainingTimeInMillis":{}', '')};
context.getRemainingTimeInMillis = () => 30000;
const result = await handler(${JSON.stringify(event)}, context);
console.log(JSON.stringify(result));`,
    );
    expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ batchItemFailures: [] });
    const node = await table?.getNode('bundle-pg', 'pg-1');
    expect(node).toMatchObject({
      clusterId: 'bundle-pg',
      nodeId: 'pg-1',
      role: 'primary',
      engine: 'postgresql',
    });
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
