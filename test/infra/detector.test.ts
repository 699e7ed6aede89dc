import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { Detector } from '../../infra/constructs/detector';
import {
  arnOf,
  logicalIdOf,
  logicalIdOfConstruct,
  resources,
  type Statement,
  statementsOfFunction,
  statementsOfRole,
  TEST_REGION,
  type TestApp,
  testApp,
} from './support';

// One synthesis of the default app for the whole file; bundling skipped (the template is what counts).
let t: TestApp;
let template: Template;
let ids: {
  table: string;
  tableKey: string;
  topic: string;
  topicKey: string;
  detectorKey: string;
  sweepFunction: string;
  sweepMachine: string;
  sweepMachineRole: string;
  sweepLogs: string;
  logKey: string;
  onTransitionFunction: string;
  schedule: string;
  scheduleRole: string;
  failureQueue: string;
  sweepDeadLetterQueue: string;
  failover: string;
  recovery: string;
};

beforeAll(() => {
  t = testApp({ bundling: false });
  template = Template.fromStack(t.stack);
  const { stateStore, notifications, detector } = t.stack;
  const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(t.stack, c);
  ids = {
    table: id(stateStore.table),
    tableKey: id(stateStore.key),
    topic: id(notifications.topic),
    topicKey: id(notifications.key),
    detectorKey: id(detector.key),
    sweepFunction: id(detector.sweepFunction.fn),
    sweepMachine: id(detector.sweepStateMachine),
    sweepMachineRole: id(detector.sweepStateMachine.role),
    sweepLogs: id(detector.sweepLogs),
    logKey: id(detector.sweepFunction.logKey),
    onTransitionFunction: id(detector.onTransitionFunction.fn),
    schedule: id(detector.schedule),
    scheduleRole: id(detector.scheduleRole),
    failureQueue: id(detector.failureQueue),
    sweepDeadLetterQueue: id(detector.sweepDeadLetterQueue),
    failover: id(t.stack.runbooks.failover),
    recovery: id(t.stack.runbooks.recovery),
  };
});

afterAll(() => t.cleanup());

const allowed = (statements: Statement[]) => statements.filter((s) => s.effect === 'Allow');
const onService = (statements: Statement[], service: string) =>
  allowed(statements).filter((s) => s.actions.some((a) => a.startsWith(`${service}:`)));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

describe('the sweep schedule', () => {
  it('fires at rate(1 minute), enabled, with no flexible window', () => {
    expect(resources(template)[ids.schedule]?.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
  });

  it('starts the sweep state machine with its scheduled time, its own role, retries within the minute and a DLQ', () => {
    expect(resources(template)[ids.schedule]?.Properties?.Target).toEqual({
      Arn: { Ref: ids.sweepMachine },
      RoleArn: arnOf(ids.scheduleRole),
      Input: JSON.stringify({ windowStart: '<aws.scheduler.scheduled-time>' }),
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
      DeadLetterConfig: { Arn: arnOf(ids.sweepDeadLetterQueue) },
    });
  });

  it('is the only schedule', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
  });

  it("has a role only EventBridge Scheduler may assume, for this account's default schedule group", () => {
    expect(resources(template)[ids.scheduleRole]?.Properties?.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: {
              'aws:SourceAccount': { Ref: 'AWS::AccountId' },
              'aws:SourceArn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    `:scheduler:${TEST_REGION}:`,
                    { Ref: 'AWS::AccountId' },
                    ':schedule-group/default',
                  ],
                ],
              },
            },
          },
        },
      ],
    });
  });

  it('lets its role start the sweep state machine only and send to the DLQ', () => {
    const statements = statementsOfRole(template, ids.scheduleRole);
    expect(statements).toEqual(
      expect.arrayContaining([
        { effect: 'Allow', actions: ['states:StartExecution'], resources: [{ Ref: ids.sweepMachine }] },
        { effect: 'Allow', actions: ['sqs:SendMessage'], resources: [arnOf(ids.sweepDeadLetterQueue)] },
        {
          effect: 'Allow',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [arnOf(ids.detectorKey)],
        },
      ]),
    );
    expect(statements).toHaveLength(3);
  });

  it('gives its role no inline or managed policy of its own', () => {
    const role = resources(template)[ids.scheduleRole]?.Properties;
    expect(role?.Policies).toBeUndefined();
    expect(role?.ManagedPolicyArns).toBeUndefined();
  });
});

/** The sweep machine's definition, its CloudFormation tokens replaced by their logical ids. */
function sweepDefinition(): {
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, Record<string, unknown>>;
} {
  const definition = resources(template)[ids.sweepMachine]?.Properties?.DefinitionString as
    | { 'Fn::Join': [string, unknown[]] }
    | undefined;
  if (definition === undefined) throw new Error('the sweep machine has no DefinitionString');
  const parts = definition['Fn::Join'][1];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const token = p as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      return token.Ref !== undefined ? `<Ref:${token.Ref}>` : `<GetAtt:${token['Fn::GetAtt']?.join('.')}>`;
    })
    .join('');
  return JSON.parse(text);
}

describe('the sweep state machine', () => {
  it('is an EXPRESS machine, traced, logging ERROR with execution data to its own KMS-encrypted log group', () => {
    expect(resources(template)[ids.sweepMachine]?.Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ERROR',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: arnOf(ids.sweepLogs) } }],
      },
    });
    expect(resources(template)[ids.sweepLogs]?.Properties).toMatchObject({
      KmsKeyId: arnOf(ids.logKey),
      RetentionInDays: 30,
    });
  });

  it('invokes the sweep once per slot and waits for the answered slot in a Wait state, until done', () => {
    const definition = sweepDefinition();
    expect(definition.StartAt).toBe('SweepOnce');
    // Express allows 5 minutes; one window is one minute.
    expect(definition.TimeoutSeconds).toBe(240);
    const states = definition.States;
    expect(states.SweepOnce).toMatchObject({
      Type: 'Task',
      Resource: `<GetAtt:${ids.sweepFunction}.Arn>`,
      Next: 'WindowDone',
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailedSweep' }],
    });
    // The state is the payload, the answer the next state.
    expect(states.SweepOnce?.Parameters).toBeUndefined();
    expect(states.SweepOnce?.ResultPath).toBeUndefined();
    expect(states.WindowDone).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.done', BooleanEquals: true, Next: 'Done' }],
      Default: 'WaitForNextSlot',
    });
    expect(states.WaitForNextSlot).toEqual({ Type: 'Wait', TimestampPath: '$.at', Next: 'SweepOnce' });
    expect(states.Done).toEqual({ Type: 'Succeed' });
  });

  it('records a sweep that failed after its retries in the sweep DLQ, then fails the execution', () => {
    const states = sweepDefinition().States;
    expect(states.RecordFailedSweep).toMatchObject({
      Type: 'Task',
      Resource: 'arn:<Ref:AWS::Partition>:states:::sqs:sendMessage',
      ResultPath: null,
      Next: 'SweepFailed',
      Parameters: {
        QueueUrl: `<Ref:${ids.sweepDeadLetterQueue}>`,
        MessageBody: { 'execution.$': '$$.Execution.Id', 'sweep.$': '$' },
      },
    });
    expect(states.SweepFailed).toMatchObject({ Type: 'Fail', Error: 'SweepFailed' });
  });

  it('may invoke the sweep function only (no version wildcard) and send to the DLQ, nothing else but logs and X-Ray', () => {
    const statements = statementsOfRole(template, ids.sweepMachineRole);
    expect(statements.filter((s) => !same(s.resources, ['*']))).toEqual([
      { effect: 'Allow', actions: ['lambda:InvokeFunction'], resources: [arnOf(ids.sweepFunction)] },
      { effect: 'Allow', actions: ['sqs:SendMessage'], resources: [arnOf(ids.sweepDeadLetterQueue)] },
      {
        effect: 'Allow',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [arnOf(ids.detectorKey)],
      },
    ]);
    expect(
      statements
        .filter((s) => same(s.resources, ['*']))
        .flatMap((s) => s.actions)
        .every((a) => /^(logs|xray):/.test(a)),
    ).toBe(true);
  });
});

describe('the sweep function', () => {
  it('sweeps once per invocation, every 10 s by default (its window math), with a timeout of 60 s', () => {
    const properties = resources(template)[ids.sweepFunction]?.Properties;
    expect(properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: {
          SWEEP_INTERVAL_SECONDS: '10',
          TABLE_NAME: { Ref: ids.table },
          POWERTOOLS_SERVICE_NAME: 'sweep',
        },
      },
    });
    expect(properties?.Timeout).toBe(60);
    expect(properties?.MemorySize).toBe(256);
  });

  it('is invoked by the sweep state machine only: no asynchronous invoke configuration, no schedule', () => {
    expect(
      Object.values(resources(template)).filter(
        (r) =>
          r.Type === 'AWS::Lambda::EventInvokeConfig' &&
          same(r.Properties?.FunctionName, { Ref: ids.sweepFunction }),
      ),
    ).toEqual([]);
    expect(JSON.stringify(resources(template)[ids.schedule])).not.toContain(ids.sweepFunction);
  });

  it('may read and conditionally write the table, and only Query the sweep index', () => {
    expect(onService(statementsOfFunction(template, ids.sweepFunction), 'dynamodb')).toEqual([
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
      {
        effect: 'Allow',
        actions: ['dynamodb:Query'],
        resources: [{ 'Fn::Join': ['', [arnOf(ids.table), `/index/${TABLE.sweepIndex.name}`]] }],
      },
    ]);
  });

  it('has no access to the alerts topic or the table stream', () => {
    const statements = statementsOfFunction(template, ids.sweepFunction);
    expect(onService(statements, 'sns')).toEqual([]);
    expect(
      allowed(statements).flatMap((s) =>
        s.actions.filter((a) =>
          /^dynamodb:(ListStreams|DescribeStream|GetRecords|GetShardIterator)$/.test(a),
        ),
      ),
    ).toEqual([]);
  });
});

describe("on-transition's table-stream event source mapping", () => {
  const mapping = () =>
    resources(template)[
      logicalIdOf(template, 'AWS::Lambda::EventSourceMapping', (p) =>
        same(p.FunctionName, { Ref: ids.onTransitionFunction }),
      )
    ]?.Properties;

  it('filters with TRANSITION_FILTER_PATTERN as its single filter, byte for byte', () => {
    expect(mapping()?.FilterCriteria).toEqual({
      Filters: [{ Pattern: JSON.stringify(TRANSITION_FILTER_PATTERN) }],
    });
  });

  it('reads the table stream in order from the start, bisecting, retrying, reporting item failures', () => {
    expect(mapping()).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [ids.table, 'StreamArn'] },
      FunctionName: { Ref: ids.onTransitionFunction },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: arnOf(ids.failureQueue) } },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(TRANSITION_FILTER_PATTERN) }] },
    });
  });
});

describe('the on-transition function', () => {
  const statements = () => statementsOfFunction(template, ids.onTransitionFunction);

  it('gets TABLE_NAME, ALERTS_TOPIC_ARN and the ARNs of both runbook state machines', () => {
    expect(resources(template)[ids.onTransitionFunction]?.Properties).toMatchObject({
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: ids.table },
          ALERTS_TOPIC_ARN: { Ref: ids.topic },
          FAILOVER_STATE_MACHINE_ARN: { Ref: ids.failover },
          RECOVERY_STATE_MACHINE_ARN: { Ref: ids.recovery },
          POWERTOOLS_SERVICE_NAME: 'on-transition',
        },
      },
    });
  });

  it('may start executions of exactly the two runbook state machines, and no other states action', () => {
    expect(onService(statements(), 'states')).toEqual([
      { effect: 'Allow', actions: ['states:StartExecution'], resources: [{ Ref: ids.failover }] },
      { effect: 'Allow', actions: ['states:StartExecution'], resources: [{ Ref: ids.recovery }] },
    ]);
  });

  it('may publish to the alerts topic only, with the publisher actions on its key', () => {
    expect(onService(statements(), 'sns')).toEqual([
      { effect: 'Allow', actions: ['sns:Publish'], resources: [{ Ref: ids.topic }] },
    ]);
    expect(
      allowed(statements()).filter((s) => s.resources.some((r) => same(r, arnOf(ids.topicKey)))),
    ).toEqual([
      { effect: 'Allow', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [arnOf(ids.topicKey)] },
    ]);
  });

  it('may get, put and update table items (what its TransactWriteItems of two Puts needs), on the table only', () => {
    const onTable = onService(statements(), 'dynamodb').filter((s) =>
      s.resources.every((r) => same(r, arnOf(ids.table))),
    );
    expect(onTable.flatMap((s) => s.actions)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
    );
    expect(onTable.flatMap((s) => s.actions)).not.toContain('dynamodb:DeleteItem');
    expect(onTable.flatMap((s) => s.actions)).not.toContain('dynamodb:Scan');
  });

  it("reads this table's stream only, and touches no index", () => {
    const stream = { 'Fn::GetAtt': [ids.table, 'StreamArn'] };
    const streamStatements = onService(statements(), 'dynamodb').filter((s) =>
      s.actions.some((a) => /^dynamodb:(ListStreams|DescribeStream|GetRecords|GetShardIterator)$/.test(a)),
    );
    expect(streamStatements.flatMap((s) => s.actions).sort()).toEqual([
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ]);
    for (const s of streamStatements) expect(s.resources).toEqual([stream]);
    expect(JSON.stringify(statements())).not.toContain('/index/');
  });
});

describe('the detector queues', () => {
  it.each(['failureQueue', 'sweepDeadLetterQueue'] as const)(
    '%s keeps messages 14 days, encrypted with the detector key',
    (queue) => {
      expect(resources(template)[ids[queue]]?.Properties).toEqual({
        MessageRetentionPeriod: 1209600,
        KmsMasterKeyId: arnOf(ids.detectorKey),
      });
    },
  );

  it.each(['failureQueue', 'sweepDeadLetterQueue'] as const)('%s denies any access without TLS', (queue) => {
    const policy = Object.values(resources(template)).find(
      (r) => r.Type === 'AWS::SQS::QueuePolicy' && same(r.Properties?.Queues, [{ Ref: ids[queue] }]),
    );
    expect(policy?.Properties?.PolicyDocument).toMatchObject({
      Statement: expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      ]),
    });
  });

  it('has a rotating key', () => {
    expect(resources(template)[ids.detectorKey]?.Properties).toMatchObject({ EnableKeyRotation: true });
  });
});

describe('Detector props', () => {
  // Construction only (no synthesis): the checks run in the constructor.
  const runbooksOf = (stack: Stack) => ({
    failover: StateMachine.fromStateMachineName(stack, 'Failover', 'failover'),
    recovery: StateMachine.fromStateMachineName(stack, 'Recovery', 'recovery'),
  });
  const build = (sweepIntervalSeconds: number) => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'DetectorProps', {
      env: { region: TEST_REGION },
    });
    const table = new TableV2(stack, 'Table', {
      partitionKey: { name: 'PK', type: AttributeType.STRING },
      dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    return new Detector(stack, 'Detector', {
      table,
      alertsTopic: new Topic(stack, 'Topic'),
      runbooks: runbooksOf(stack),
      sweepIntervalSeconds,
    });
  };

  it.each([0, 61, 2.5, Number.NaN])('rejects sweepIntervalSeconds %p, naming the prop', (seconds) => {
    expect(() => build(seconds)).toThrow(/sweepIntervalSeconds must be an integer from 1 to 60/);
  });

  it.each([1, 60])('accepts sweepIntervalSeconds %p', (seconds) => {
    expect(() => build(seconds)).not.toThrow();
  });

  it('rejects a table without a known stream (an imported table given by ARN only)', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'NoStream', {
      env: { region: TEST_REGION },
    });
    const table = TableV2.fromTableArn(
      stack,
      'Table',
      `arn:aws:dynamodb:${TEST_REGION}:123456789012:table/nodes`,
    );
    expect(
      () =>
        new Detector(stack, 'Detector', {
          table,
          alertsTopic: new Topic(stack, 'Topic'),
          runbooks: runbooksOf(stack),
        }),
    ).toThrow(/needs its stream/);
  });
});
