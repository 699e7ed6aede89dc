import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { type TemplateFunction, templateFunctions } from '../../infra/template-functions';
import { type TestApp, testApp } from '../infra/support';
import { createTestTable, localEndpoint, type TestTable } from '../support/dynamodb';

/**
 * The deployed form, run: the app is synthesized with bundling as `cdk deploy` does it, and each function's
 * esbuild bundle (the asset it uploads) is imported in its own Node.js process with the environment the
 * template gives that function (references to other resources replaced by stand-ins, the table by a table
 * of DynamoDB Local). Every bundle must load; ingest-heartbeat's must also take a real Kinesis event and
 * write the node to the table.
 */
const run = promisify(execFile);
let app: TestApp | undefined;
let table: TestTable | undefined;
let functions: TemplateFunction[] = [];

beforeAll(async () => {
  table = await createTestTable('bundles');
  app = testApp({ bundling: true });
  functions = templateFunctions(Template.fromStack(app.stack).toJSON(), app.outdir, table.tableName);
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
});
