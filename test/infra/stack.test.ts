import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TABLE } from '../../functions/adapters/table-definition';
import { filesReadAtInit } from '../../infra/bundling';
import { templateFunctions } from '../../infra/template-functions';
import {
  arnOf,
  bundledEntries,
  logicalIdOf,
  logicalIdOfConstruct,
  resources,
  type Statement,
  statementsOfFunction,
  type TestApp,
  testApp,
} from './support';

// One synthesis (with real esbuild bundling) for the whole file.
let t: TestApp;
let template: Template;
let ids: {
  table: string;
  tableKey: string;
  ingestKey: string;
  heartbeatStream: string;
  changeStream: string;
  quarantineQueue: string;
  failureQueue: string;
  heartbeatFunction: string;
  changeStreamFunction: string;
};

beforeAll(() => {
  // With the change-events stream, to check it too; without it, test/infra/capacity.test.ts.
  t = testApp({ context: { changeStreams: 'true' } });
  template = Template.fromStack(t.stack);
  const { stateStore, ingest } = t.stack;
  const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(t.stack, c);
  ids = {
    table: id(stateStore.table),
    tableKey: id(stateStore.key),
    ingestKey: id(ingest.key),
    heartbeatStream: id(ingest.heartbeatStream),
    changeStream: ingest.changeStream ? id(ingest.changeStream) : 'absent',
    quarantineQueue: id(ingest.quarantineQueue),
    failureQueue: id(ingest.failureQueue),
    heartbeatFunction: id(ingest.heartbeatFunction.fn),
    changeStreamFunction: ingest.changeStreamFunction ? id(ingest.changeStreamFunction.fn) : 'absent',
  };
});

afterAll(() => t.cleanup());

describe('StateStore', () => {
  it('creates exactly one table, keyed on the PK and SK strings of TABLE, billed on demand', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE.sortKey, AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('streams NEW_AND_OLD_IMAGES for on-transition', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  it('has the sweep GSI keyed on (sweepShard S, deadlineAt N) projecting the attributes of TABLE', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE.sweepIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE.sweepIndex.sortKey, AttributeType: 'N' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE.sweepIndex.name,
          KeySchema: [
            { AttributeName: TABLE.sweepIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE.sweepIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...TABLE.sweepIndex.nonKeyAttributes] },
        },
      ],
    });
  });

  it('expires items on the TTL attribute of TABLE', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: TABLE.timeToLiveAttribute, Enabled: true },
    });
  });

  it('turns on point-in-time recovery and deletion protection', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
  });

  it('encrypts with its own customer-managed key, which rotates', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [Match.objectLike({ SSESpecification: { KMSMasterKeyId: arnOf(ids.tableKey) } })],
    });
    expect(resources(template)[ids.tableKey]?.Properties).toMatchObject({ EnableKeyRotation: true });
  });

  it('retains the table and its key when the stack is deleted or they are replaced', () => {
    for (const id of [ids.table, ids.tableKey]) {
      expect(resources(template)[id]).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });
});

describe('Ingest streams', () => {
  it.each(['heartbeatStream', 'changeStream'] as const)(
    '%s has one provisioned shard, KMS-encrypted with the ingest CMK, with no fixed name',
    (field) => {
      expect(resources(template)[ids[field]]?.Properties).toEqual({
        RetentionPeriodHours: 24,
        ShardCount: 1,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
        StreamEncryption: { EncryptionType: 'KMS', KeyId: arnOf(ids.ingestKey) },
      });
    },
  );

  it.each(['heartbeatStream', 'changeStream'] as const)(
    '%s is deleted with the stack, so nothing is left behind to block the next create',
    (field) => {
      expect(resources(template)[ids[field]]).toMatchObject({
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
    },
  );

  it('uses a rotating customer-managed key for streams and queues', () => {
    expect(resources(template)[ids.ingestKey]?.Properties).toMatchObject({ EnableKeyRotation: true });
  });
});

describe('Ingest queues', () => {
  it.each(['quarantineQueue', 'failureQueue'] as const)(
    '%s keeps messages 14 days, encrypted with the CMK',
    (q) => {
      expect(resources(template)[ids[q]]?.Properties).toMatchObject({
        MessageRetentionPeriod: 14 * 24 * 3600,
        KmsMasterKeyId: arnOf(ids.ingestKey),
      });
    },
  );

  it.each(['quarantineQueue', 'failureQueue'] as const)('%s denies every request not sent over TLS', (q) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ids[q] }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });
});

describe('Kinesis event source mappings', () => {
  it.each([
    ['heartbeatStream', 'heartbeatFunction'],
    ['changeStream', 'changeStreamFunction'],
  ] as const)(
    '%s feeds %s with partial batch responses, bisection, bounded retries and the failure queue',
    (stream, fn) => {
      const mapping = logicalIdOf(
        template,
        'AWS::Lambda::EventSourceMapping',
        (p) => JSON.stringify(p.EventSourceArn) === JSON.stringify(arnOf(ids[stream])),
      );
      expect(resources(template)[mapping]?.Properties).toEqual({
        EventSourceArn: arnOf(ids[stream]),
        FunctionName: { Ref: ids[fn] },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: 1,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 5,
        MaximumRecordAgeInSeconds: 3600,
        ParallelizationFactor: 1,
        DestinationConfig: { OnFailure: { Destination: arnOf(ids.failureQueue) } },
      });
    },
  );

  it("has exactly the two Kinesis mappings (the third mapping, on the table stream, is the Detector's)", () => {
    const onKinesis = Object.values(resources(template)).filter(
      (r) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        [ids.heartbeatStream, ids.changeStream].some(
          (stream) => JSON.stringify(r.Properties?.EventSourceArn) === JSON.stringify(arnOf(stream)),
        ),
    );
    expect(onKinesis).toHaveLength(2);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
  });
});

describe('Ingest functions', () => {
  it.each([
    ['heartbeatFunction', 'ingest-heartbeat'],
    ['changeStreamFunction', 'ingest-change-stream'],
  ] as const)('%s runs nodejs24.x on arm64, traced, with the environment contract', (fn, service) => {
    expect(resources(template)[ids[fn]]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 60,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: ids.table },
          QUARANTINE_QUEUE_URL: { Ref: ids.quarantineQueue },
          POWERTOOLS_SERVICE_NAME: service,
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it.each(['heartbeatFunction', 'changeStreamFunction'] as const)(
    '%s logs JSON to its own KMS-encrypted log group kept one month',
    (fn) => {
      const logging = resources(template)[ids[fn]]?.Properties?.LoggingConfig as {
        LogGroup: { Ref: string };
      };
      expect(logging).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' });
      expect(resources(template)[logging.LogGroup.Ref]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30, KmsKeyId: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
      });
    },
  );

  it('lets CloudWatch Logs use the log key, for log groups of this account and region only', () => {
    const logging = resources(template)[ids.heartbeatFunction]?.Properties?.LoggingConfig as {
      LogGroup: { Ref: string };
    };
    const keyArn = resources(template)[logging.LogGroup.Ref]?.Properties?.KmsKeyId as {
      'Fn::GetAtt': [string];
    };
    expect(resources(template)[keyArn['Fn::GetAtt'][0]]?.Properties).toMatchObject({
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': expect.anything() } },
          }),
        ]),
      },
    });
  });

  it('gives no role of the stack an AWS managed policy (no AWSLambdaBasicExecutionRole)', () => {
    const apiGatewayAccountRole = logicalIdOfConstruct(
      t.stack,
      t.stack.operatorApi.api.node.findChild('CloudWatchRole'),
    );
    const roles = Object.entries(resources(template)).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    // ingest-heartbeat, ingest-change-stream, sweep, on-transition, the sweep schedule's role, the sweep state
    // machine, runbook-steps, operator, the three runbook state machines, and API Gateway's account CloudWatch role
    expect(roles).toHaveLength(12);
    for (const [id, role] of roles.filter(([id]) => id !== apiGatewayAccountRole)) {
      expect([id, role.Properties?.ManagedPolicyArns]).toEqual([id, undefined]);
    }
  });

  it("leaves API Gateway's account-wide CloudWatch role its AWS managed logging policy only", () => {
    const id = logicalIdOfConstruct(t.stack, t.stack.operatorApi.api.node.findChild('CloudWatchRole'));
    expect(resources(template)[id]?.Properties?.ManagedPolicyArns).toEqual([
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
          ],
        ],
      },
    ]);
    expect(resources(template)[id]?.Properties?.Policies).toBeUndefined();
  });

  it('bundles each function as ESM with a require shim and the AWS SDK inside', () => {
    const entries = bundledEntries(t.outdir);
    // ingest-heartbeat, ingest-change-stream, sweep, on-transition, runbook-steps, operator (notify-slack
    // only with a webhook)
    expect(entries).toHaveLength(6);
    for (const entry of entries) {
      const code = readFileSync(entry, 'utf8');
      expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
      // Bundled, not left to the runtime: no bare import of an @aws-sdk package remains.
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    }
  });

  it('splits each bundle: a cold start reads no database driver, runbook-steps has each in a chunk of its own', () => {
    // A string each driver's code holds: pg's SCRAM login, mysql2's default auth plugin, node-redis' RESP3.
    const DRIVERS = { pg: 'SCRAM-SHA-256', mysql2: 'caching_sha2_password', redis: 'RESP3' };
    const functions = templateFunctions(template.toJSON(), t.outdir, 'table');
    const driversIn = (files: readonly string[]) => {
      const code = files.map((file) => readFileSync(file, 'utf8')).join('\n');
      return Object.entries(DRIVERS)
        .filter(([, marker]) => code.includes(marker))
        .map(([driver]) => driver);
    };
    for (const fn of functions) {
      expect([fn.service, driversIn(filesReadAtInit(fn.entry))]).toEqual([fn.service, []]);
    }
    const steps = functions.find((fn) => fn.service === 'runbook-steps');
    if (steps === undefined) throw new Error('no runbook-steps function');
    const chunks = readdirSync(join(steps.assetDir, 'chunks'))
      .filter((name) => name.endsWith('.mjs'))
      .map((name) => join(steps.assetDir, 'chunks', name));
    for (const driver of Object.keys(DRIVERS)) {
      // Exactly one chunk holds the driver: loaded when a cluster of its engine needs it, alone.
      expect([driver, chunks.filter((chunk) => driversIn([chunk]).includes(driver)).length]).toEqual([
        driver,
        1,
      ]);
    }
  });
});

describe('IAM of the ingest functions', () => {
  const allowed = (fn: 'heartbeatFunction' | 'changeStreamFunction'): Statement[] =>
    statementsOfFunction(template, ids[fn]).filter((s) => s.effect === 'Allow');

  it('lets the heartbeat function send to the quarantine queue (and, for its mapping, the failure queue) only', () => {
    const sqs = allowed('heartbeatFunction').filter((s) => s.actions.some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap((s) => s.actions)).toEqual(['sqs:SendMessage', 'sqs:SendMessage']);
    expect(sqs.flatMap((s) => s.resources)).toEqual([arnOf(ids.quarantineQueue), arnOf(ids.failureQueue)]);
  });

  it.each(['heartbeatFunction', 'changeStreamFunction'] as const)(
    '%s allows "*" only for the X-Ray write actions (the one IAM5 acknowledgement)',
    (fn) => {
      const onStar = allowed(fn).filter((s) => s.resources.includes('*'));
      expect(onStar.flatMap((s) => s.actions).sort()).toEqual([
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    },
  );

  it.each(['heartbeatFunction', 'changeStreamFunction'] as const)('%s has no wildcard action', (fn) => {
    expect(allowed(fn).flatMap((s) => s.actions)).not.toContainEqual(expect.stringContaining('*'));
  });

  it.each(['heartbeatFunction', 'changeStreamFunction'] as const)(
    '%s may only get, query, put and update on the table itself (no Scan, no Delete, no index/*)',
    (fn) => {
      const dynamo = allowed(fn).filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
      expect(dynamo).toEqual([
        {
          effect: 'Allow',
          actions: [
            'dynamodb:GetItem',
            'dynamodb:BatchGetItem',
            'dynamodb:Query',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
          ],
          resources: [arnOf(ids.table)],
        },
      ]);
    },
  );

  it.each(['heartbeatFunction', 'changeStreamFunction'] as const)(
    '%s may decrypt and encrypt with the table key, named actions only',
    (fn) => {
      const onTableKey = allowed(fn).filter((s) =>
        s.resources.some((r) => JSON.stringify(r) === JSON.stringify(arnOf(ids.tableKey))),
      );
      expect(onTableKey.flatMap((s) => s.actions).sort()).toEqual([
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
      ]);
    },
  );

  it.each([
    ['heartbeatFunction', 'heartbeatStream'],
    ['changeStreamFunction', 'changeStream'],
  ] as const)('%s reads its own stream only', (fn, stream) => {
    const kinesis = allowed(fn).filter((s) => s.actions.some((a) => a.startsWith('kinesis:')));
    expect(kinesis.flatMap((s) => s.resources)).toEqual([arnOf(ids[stream])]);
  });
});

describe('outputs', () => {
  it('exports the table name, the stream ARNs and the ingest queue URLs', () => {
    template.hasOutput('TableName', { Value: { Ref: ids.table } });
    template.hasOutput('HeartbeatStreamArn', { Value: arnOf(ids.heartbeatStream) });
    template.hasOutput('ChangeStreamArn', { Value: arnOf(ids.changeStream) });
    template.hasOutput('QuarantineQueueUrl', { Value: { Ref: ids.quarantineQueue } });
    template.hasOutput('FailureQueueUrl', { Value: { Ref: ids.failureQueue } });
  });

  it('exports the alerts topic ARN', () => {
    template.hasOutput('AlertsTopicArn', {
      Value: { Ref: logicalIdOfConstruct(t.stack, t.stack.notifications.topic) },
    });
  });
});
