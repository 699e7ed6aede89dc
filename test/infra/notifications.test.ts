import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { jest } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { onceInTable } from '../../functions/adapters/once';
import { idempotencyPartitionKey } from '../../functions/adapters/table-definition';
import { NOTIFY_SLACK_IDEMPOTENCY_SCOPE } from '../../infra/constructs/notifications';
import {
  ALL_OPTIONS_CONTEXT,
  arnOf,
  type CfnResourceJson,
  logicalIdOf,
  logicalIdOfConstruct,
  resources,
  type Statement,
  statementsOfFunction,
  statementsOfRole,
  useDefaultAndFullApps,
} from './support';

// Two configurations, one synthesis each, bundling skipped (the template is what counts).
const { base: plain, full } = useDefaultAndFullApps();

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const ofType = (template: Template, type: string): CfnResourceJson[] =>
  Object.values(resources(template)).filter((r) => r.Type === type);
const allowedOn = (statements: Statement[], service: string) =>
  statements.filter((s) => s.effect === 'Allow' && s.actions.some((a) => a.startsWith(`${service}:`)));

describe.each([
  ['without options', () => ({ t: plain, template: plain.template })],
  ['with every option', () => ({ t: full, template: full.template })],
])('the alerts topic (%s)', (_label, app) => {
  it('is the one topic, encrypted with the rotating Notifications key', () => {
    const { t, template } = app();
    const topic = logicalIdOfConstruct(t.stack, t.stack.notifications.topic);
    const key = logicalIdOfConstruct(t.stack, t.stack.notifications.key);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    expect(resources(template)[topic]?.Properties).toMatchObject({
      KmsMasterKeyId: arnOf(key),
      SignatureVersion: '2',
    });
    expect(resources(template)[key]?.Properties).toMatchObject({ EnableKeyRotation: true });
  });

  it('has a TLS-only topic policy: it denies sns:Publish to anyone without aws:SecureTransport', () => {
    const { t, template } = app();
    const topic = logicalIdOfConstruct(t.stack, t.stack.notifications.topic);
    const policies = ofType(template, 'AWS::SNS::TopicPolicy');
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties).toEqual({
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: { Ref: topic },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          // Observability: CloudWatch alarms of this account publish to the topic.
          expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ],
      },
    });
  });

  it('keeps the topic key policy to the account: no service principal but CloudWatch alarms may use the key', () => {
    const { t, template } = app();
    const key = logicalIdOfConstruct(t.stack, t.stack.notifications.key);
    const keyPolicy = resources(template)[key]?.Properties?.KeyPolicy as
      | { Statement: Array<{ Principal: unknown }> }
      | undefined;
    const statements = keyPolicy?.Statement ?? [];
    expect(statements.map((s) => s.Principal)).toEqual([
      {
        AWS: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
        },
      },
      // Observability: an alarm cannot publish to a CMK-encrypted topic without it (limited to our alarms).
      { Service: 'cloudwatch.amazonaws.com' },
    ]);
  });
});

describe('without Slack options', () => {
  it('deploys no Chatbot channel, no notify-slack function, no subscription and no dead-letter queue', () => {
    const { notifications } = plain.stack;
    expect(notifications.chatbot).toBeUndefined();
    expect(notifications.notifySlack).toBeUndefined();
    expect(notifications.deadLetterQueue).toBeUndefined();
    plain.template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    plain.template.resourceCountIs('AWS::SNS::Subscription', 0);
    plain.template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    expect(JSON.stringify(plain.template.toJSON())).not.toContain('secretsmanager');
  });
});

describe('the AWS Chatbot Slack channel (chatbotSlackWorkspaceId + chatbotSlackChannelId)', () => {
  const configuration = () =>
    resources(full.template)[
      logicalIdOf(full.template, 'AWS::Chatbot::SlackChannelConfiguration')
    ] as CfnResourceJson;

  it('delivers the alerts topic to the configured workspace and channel', () => {
    const topic = logicalIdOfConstruct(full.stack, full.stack.notifications.topic);
    expect(configuration().Properties).toMatchObject({
      SlackWorkspaceId: ALL_OPTIONS_CONTEXT.chatbotSlackWorkspaceId,
      SlackChannelId: ALL_OPTIONS_CONTEXT.chatbotSlackChannelId,
      SnsTopicArns: [{ Ref: topic }],
      ConfigurationName: `${full.stack.stackName}-${full.stack.region}-alerts`,
      LoggingLevel: 'ERROR',
    });
  });

  it('caps the channel with a guardrail that denies every action (never the AdministratorAccess default)', () => {
    const guardrails = configuration().Properties?.GuardrailPolicies as Array<{ Ref: string }>;
    expect(guardrails).toHaveLength(1);
    const guardrail = resources(full.template)[guardrails[0]?.Ref ?? ''];
    expect(guardrail?.Type).toBe('AWS::IAM::ManagedPolicy');
    expect(guardrail?.Properties?.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
    });
    expect(JSON.stringify(configuration().Properties)).not.toContain('AdministratorAccess');
  });

  it('gives the channel role no permission at all: trusted by Chatbot, no policy of any kind', () => {
    const roleArn = configuration().Properties?.IamRoleArn as { 'Fn::GetAtt': [string, string] };
    const roleId = roleArn['Fn::GetAtt'][0];
    expect(resources(full.template)[roleId]?.Properties).toEqual({
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'chatbot.amazonaws.com' } },
        ],
      },
    });
    expect(statementsOfRole(full.template, roleId)).toEqual([]);
  });
});

describe('the notify-slack function (slackWebhookSecretArn)', () => {
  let ids: { fn: string; deadLetterQueue: string; deadLetterKey: string; topic: string; table: string };

  beforeAll(() => {
    const { notifications, stateStore } = full.stack;
    if (notifications.notifySlack === undefined || notifications.deadLetterQueue === undefined) {
      throw new Error('the all-options app deploys notify-slack');
    }
    const deadLetterKey = notifications.deadLetterQueue.encryptionMasterKey;
    if (deadLetterKey === undefined) throw new Error('the dead-letter queue has a KMS key');
    const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(full.stack, c);
    ids = {
      fn: id(notifications.notifySlack.fn),
      deadLetterQueue: id(notifications.deadLetterQueue),
      deadLetterKey: id(deadLetterKey),
      topic: id(notifications.topic),
      table: id(stateStore.table),
    };
  });

  const statements = () => statementsOfFunction(full.template, ids.fn);

  it('gets TABLE_NAME and SLACK_WEBHOOK_SECRET_ARN', () => {
    expect(resources(full.template)[ids.fn]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: ids.table },
          SLACK_WEBHOOK_SECRET_ARN: ALL_OPTIONS_CONTEXT.slackWebhookSecretArn,
          POWERTOOLS_SERVICE_NAME: 'notify-slack',
        },
      },
    });
  });

  it('may read exactly that one secret value, and nothing else in Secrets Manager', () => {
    expect(allowedOn(statements(), 'secretsmanager')).toEqual([
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [ALL_OPTIONS_CONTEXT.slackWebhookSecretArn],
      },
    ]);
  });

  it("may decrypt with the secret's key, through Secrets Manager in the stack's region only", () => {
    expect(
      statements().filter((s) => s.resources.includes(ALL_OPTIONS_CONTEXT.slackWebhookSecretKeyArn)),
    ).toEqual([
      {
        effect: 'Allow',
        actions: ['kms:Decrypt'],
        resources: [ALL_OPTIONS_CONTEXT.slackWebhookSecretKeyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${full.stack.region}.amazonaws.com` },
        },
      },
    ]);
  });

  it('may only get, put, update and delete its own idempotency records in the table (LeadingKeys)', () => {
    expect(allowedOn(statements(), 'dynamodb')).toEqual([
      {
        effect: 'Allow',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [arnOf(ids.table)],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['IDEMPOTENCY#notify-slack'] },
        },
      },
    ]);
  });

  it('is retried twice on failure, then its event goes to the dead-letter queue', () => {
    const config = logicalIdOf(full.template, 'AWS::Lambda::EventInvokeConfig', (p) =>
      same(p.FunctionName, { Ref: ids.fn }),
    );
    expect(resources(full.template)[config]?.Properties).toEqual({
      FunctionName: { Ref: ids.fn },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: arnOf(ids.deadLetterQueue) } },
    });
    expect(allowedOn(statements(), 'sqs')).toEqual([
      { effect: 'Allow', actions: ['sqs:SendMessage'], resources: [arnOf(ids.deadLetterQueue)] },
    ]);
  });

  it('subscribes to the alerts topic, with the dead-letter queue as the redrive target of the subscription', () => {
    const subscriptions = ofType(full.template, 'AWS::SNS::Subscription');
    expect(subscriptions.map((s) => s.Properties)).toEqual([
      {
        Protocol: 'lambda',
        TopicArn: { Ref: ids.topic },
        Endpoint: arnOf(ids.fn),
        RedrivePolicy: { deadLetterTargetArn: arnOf(ids.deadLetterQueue) },
      },
    ]);
  });

  it('lets SNS invoke it for this topic only', () => {
    const permissions = ofType(full.template, 'AWS::Lambda::Permission').filter((p) =>
      same(p.Properties?.FunctionName, arnOf(ids.fn)),
    );
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(ids.fn),
        Principal: 'sns.amazonaws.com',
        SourceArn: { Ref: ids.topic },
      },
    ]);
  });

  it('has a dead-letter queue kept 14 days, KMS-encrypted, TLS-only, that SNS may send to for this topic only', () => {
    expect(resources(full.template)[ids.deadLetterQueue]?.Properties).toEqual({
      MessageRetentionPeriod: 1209600,
      KmsMasterKeyId: arnOf(ids.deadLetterKey),
    });
    const policy = ofType(full.template, 'AWS::SQS::QueuePolicy').find((r) =>
      same(r.Properties?.Queues, [{ Ref: ids.deadLetterQueue }]),
    );
    expect(policy?.Properties?.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Resource: arnOf(ids.deadLetterQueue),
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
        {
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Principal: { Service: 'sns.amazonaws.com' },
          Resource: arnOf(ids.deadLetterQueue),
          Condition: { ArnEquals: { 'aws:SourceArn': { Ref: ids.topic } } },
        },
      ],
    });
  });

  it("lets SNS use the dead-letter queue's key for this topic only (to write failed deliveries)", () => {
    const keyPolicy = resources(full.template)[ids.deadLetterKey]?.Properties?.KeyPolicy as {
      Statement: Array<Record<string, unknown>>;
    };
    expect(keyPolicy.Statement).toContainEqual({
      Effect: 'Allow',
      Principal: { Service: 'sns.amazonaws.com' },
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:SourceArn': { Ref: ids.topic } },
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      },
    });
  });
});

describe("the idempotency records notify-slack's grant is limited to", () => {
  // The LeadingKeys condition above is only right if onceInTable() (functions/adapters/once.ts) writes
  // its records under the same partition key; this drives it against a mocked DynamoDB client.
  const dynamo = mockClient(DynamoDBClient);

  afterAll(() => dynamo.restore());

  it('are the items onceInTable() reads and writes for the notify-slack scope', async () => {
    dynamo.on(GetItemCommand).resolves({});
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(UpdateItemCommand).resolves({});
    dynamo.on(DeleteItemCommand).resolves({});
    const once = onceInTable(
      new DynamoDBClient({ region: 'eu-west-1' }),
      'table',
      NOTIFY_SLACK_IDEMPOTENCY_SCOPE,
    );

    // Outside Lambda, Powertools warns that it cannot tell the remaining time; not what is tested here.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await once('incident-1#3', async () => {});
    } finally {
      warn.mockRestore();
    }

    const keys = dynamo.calls().map((call) => {
      const input = call.args[0].input as { Key?: { PK?: unknown }; Item?: { PK?: unknown } };
      return input.Key?.PK ?? input.Item?.PK;
    });
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys)
      expect(key).toEqual({ S: idempotencyPartitionKey(NOTIFY_SLACK_IDEMPOTENCY_SCOPE) });
    expect(idempotencyPartitionKey(NOTIFY_SLACK_IDEMPOTENCY_SCOPE)).toBe('IDEMPOTENCY#notify-slack');
  });
});
