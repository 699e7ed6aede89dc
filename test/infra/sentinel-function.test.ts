import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { SecurityGroup, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { createLogsKey } from '../../infra/constructs/logs-key';
import { SentinelFunction } from '../../infra/constructs/sentinel-function';
import { functionEntry } from '../../infra/paths';
import { arnOf, logicalIdOfConstruct, statementsOfFunction, TEST_REGION } from './support';

// A bare stack with one read-only function and one tuned function; bundling skipped (placeholder code).
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new Stack(app, 'SentinelFunctionTest', { env: { region: TEST_REGION } });
const tableKey = new Key(stack, 'TableKey', { enableKeyRotation: true });
const table = new TableV2(stack, 'Table', {
  partitionKey: { name: 'PK', type: AttributeType.STRING },
  globalSecondaryIndexes: [{ indexName: 'sweep', partitionKey: { name: 's', type: AttributeType.STRING } }],
  encryption: TableEncryptionV2.customerManagedKey(tableKey),
});
const queue = new Queue(stack, 'Queue', { encryption: QueueEncryption.KMS });
const sharedLogKey = createLogsKey(stack, 'SharedLogKey');

const reader = new SentinelFunction(stack, 'Reader', { entry: functionEntry('ingest-heartbeat') }).bindTable(
  table,
  'R',
  { indexes: ['sweep'] },
);
const tuned = new SentinelFunction(stack, 'Tuned', {
  entry: functionEntry('ingest-heartbeat'),
  serviceName: 'tuned-service',
  memorySize: 1024,
  timeout: Duration.seconds(10),
  logLevel: 'DEBUG',
  logRetention: RetentionDays.ONE_WEEK,
  logKey: sharedLogKey,
  environment: { EXTRA: 'yes' },
}).bindQuarantine(queue);

let template: Template;
beforeAll(() => {
  template = Template.fromStack(stack);
});
const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(stack, c);

describe('SentinelFunction defaults', () => {
  it('uses 512 MiB, 60 s, INFO and the construct id as service name', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      MemorySize: 512,
      Timeout: 60,
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'Reader', POWERTOOLS_LOG_LEVEL: 'INFO' } },
    });
  });

  it('creates a logs key for the function when none is given, and none when one is', () => {
    expect(reader.logKey).not.toBe(sharedLogKey);
    expect(tuned.logKey).toBe(sharedLogKey);
    // table key, queue key, shared logs key, and Reader's own logs key
    template.resourceCountIs('AWS::KMS::Key', 4);
  });
});

describe('SentinelFunction props', () => {
  it('applies memory, timeout, log level, service name and extra environment', () => {
    expect(template.toJSON().Resources[id(tuned.fn)].Properties).toMatchObject({
      MemorySize: 1024,
      Timeout: 10,
      LoggingConfig: { ApplicationLogLevel: 'DEBUG' },
      Environment: {
        Variables: { POWERTOOLS_SERVICE_NAME: 'tuned-service', POWERTOOLS_LOG_LEVEL: 'DEBUG', EXTRA: 'yes' },
      },
    });
  });

  it('keeps logs for the given retention, encrypted with the given key', () => {
    expect(template.toJSON().Resources[id(tuned.logGroup)].Properties).toEqual({
      RetentionInDays: 7,
      KmsKeyId: arnOf(id(sharedLogKey)),
    });
  });
});

describe('SentinelFunction.bindTable', () => {
  it("grants 'R' the read actions on the table, Query only on the named index, and decrypt on its key", () => {
    const statements = statementsOfFunction(template, id(reader.fn));
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
      resources: [arnOf(id(table))],
    });
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['dynamodb:Query'],
      resources: [{ 'Fn::Join': ['', [arnOf(id(table)), '/index/sweep']] }],
    });
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['kms:Decrypt', 'kms:DescribeKey'],
      resources: [arnOf(id(tableKey))],
    });
  });

  it('sets TABLE_NAME', () => {
    expect(template.toJSON().Resources[id(reader.fn)].Properties.Environment.Variables.TABLE_NAME).toEqual({
      Ref: id(table),
    });
  });
});

describe('SentinelFunction.bindQuarantine', () => {
  it('sets QUARANTINE_QUEUE_URL and grants sqs:SendMessage plus the producer KMS actions, nothing more', () => {
    expect(
      template.toJSON().Resources[id(tuned.fn)].Properties.Environment.Variables.QUARANTINE_QUEUE_URL,
    ).toEqual({
      Ref: id(queue),
    });
    const queueKey = queue.encryptionMasterKey;
    if (queueKey === undefined) throw new Error('the test queue has a KMS key');
    const statements = statementsOfFunction(template, id(tuned.fn)).filter(
      (s) => !s.actions.some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
    );
    expect(statements).toEqual([
      { effect: 'Allow', actions: ['sqs:SendMessage'], resources: [arnOf(id(queue))] },
      { effect: 'Allow', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [arnOf(id(queueKey))] },
    ]);
  });
});

describe('SentinelFunction argument checks', () => {
  // Construction only, each in a stack of its own: the checks run before any resource is added.
  const fresh = () => {
    const scratch = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Checks', {
      env: { region: TEST_REGION },
    });
    return { scratch, fn: new SentinelFunction(scratch, 'Fn', { entry: functionEntry('ingest-heartbeat') }) };
  };

  it("refuses conditionChecks without 'RW' access (they belong to transactional writes)", () => {
    const { scratch, fn } = fresh();
    const other = new TableV2(scratch, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    expect(() => fn.bindTable(other, 'R', { conditionChecks: true })).toThrow(
      /conditionChecks .* need access 'RW'/,
    );
  });

  it('refuses a secret known by a partial ARN, naming what the secret is for', () => {
    const { scratch, fn } = fresh();
    const partial = Secret.fromSecretNameV2(scratch, 'Partial', 'db');
    expect(() => fn.bindSecret('DATABASE_SECRET_ARN', partial, 'the database secret')).toThrow(
      /the database secret needs its complete ARN/,
    );
  });

  it('refuses a VPC placement without subnets', () => {
    const scratch = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'NoSubnets', {
      env: { region: TEST_REGION },
    });
    const vpc = Vpc.fromVpcAttributes(scratch, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['a'],
    });
    const securityGroup = SecurityGroup.fromSecurityGroupId(scratch, 'Sg', 'sg-0123456789abcdef0');
    expect(
      () =>
        new SentinelFunction(scratch, 'Fn', {
          entry: functionEntry('ingest-heartbeat'),
          vpc: { vpc, subnets: [], securityGroups: [securityGroup] },
        }),
    ).toThrow(/needs at least one subnet and one security group/);
  });
});
