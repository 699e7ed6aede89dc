import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { RUNBOOK_ACTIONS } from '../../functions/core/runbook';
import { type FlowState, RUNBOOK_FLOWS } from '../../functions/core/runbook-flows';
import { MAX_STACK_NAME_LENGTH, Runbooks } from '../../infra/constructs/runbooks';
import {
  RUNTIME_ERRORS,
  SSM_PENDING_STATUSES,
  SSM_TRANSIENT_ERRORS,
  TRANSIENT_ERRORS,
} from '../../infra/constructs/runbooks/runbook-flow';
import { ROUTING_COMMENT_PREFIX } from '../../infra/runbook-routing';
import {
  ALL_OPTIONS_CONTEXT,
  arnOf,
  LOG_DELIVERY_ACTIONS,
  logicalIdOfConstruct,
  resources,
  type Statement,
  statementsOfFunction,
  statementsOfRole,
  TEST_REGION,
  type TestApp,
  useDefaultAndFullApps,
} from './support';

// Two syntheses for the file, bundling skipped (the templates are what counts): the default app and the
// app with every option.

/** A state of a resolved definition: only the fields these tests read. */
interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Comment?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly ResultPath?: string | null;
  readonly ResultSelector?: Record<string, unknown>;
  readonly TimeoutSecondsPath?: string;
  readonly TimeoutSeconds?: number;
  readonly SecondsPath?: string;
  readonly Seconds?: number;
  readonly Retry?: ReadonlyArray<{
    ErrorEquals: string[];
    IntervalSeconds?: number;
    BackoffRate?: number;
    MaxAttempts?: number;
  }>;
  readonly Catch?: ReadonlyArray<{ ErrorEquals: string[]; Next: string; ResultPath?: string | null }>;
  readonly Choices?: ReadonlyArray<Record<string, unknown>>;
  readonly Default?: string;
  readonly Error?: string;
}
interface Asl {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
}

/** The definition with `Fn::Join` flattened and `Fn::GetAtt` / `Ref` written as `<id.attr>` / `<id>`. */
function definitionOf(template: Template, stateMachineId: string): Asl {
  const flatten = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as { 'Fn::Join'?: [string, unknown[]]; 'Fn::GetAtt'?: [string, string]; Ref?: string };
    if (v['Fn::Join'] !== undefined) return v['Fn::Join'][1].map(flatten).join(v['Fn::Join'][0]);
    if (v['Fn::GetAtt'] !== undefined) return `<${v['Fn::GetAtt'].join('.')}>`;
    if (v.Ref !== undefined) return `<${v.Ref}>`;
    throw new Error(`unexpected intrinsic ${JSON.stringify(value)}`);
  };
  return JSON.parse(flatten(resources(template)[stateMachineId]?.Properties?.DefinitionString)) as Asl;
}

/** What Step Functions needs on "*" for X-Ray tracing. */
const STATE_MACHINE_XRAY_ACTIONS = [
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
];

const allowed = (statements: Statement[]) => statements.filter((s) => s.effect === 'Allow');

interface Ids {
  readonly steps: string;
  readonly failover: string;
  readonly recovery: string;
  readonly switchover: string;
  readonly failoverRole: string;
  readonly recoveryRole: string;
  readonly executionLogs: string;
  readonly table: string;
  readonly tableKey: string;
  readonly topic: string;
}

function idsOf(t: TestApp): Ids {
  const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(t.stack, c);
  const { runbooks, stateStore, notifications } = t.stack;
  return {
    steps: id(runbooks.stepsFunction.fn),
    failover: id(runbooks.failover),
    recovery: id(runbooks.recovery),
    switchover: id(runbooks.switchover),
    failoverRole: id(runbooks.failover.role),
    recoveryRole: id(runbooks.recovery.role),
    executionLogs: id(runbooks.executionLogs),
    table: id(stateStore.table),
    tableKey: id(stateStore.key),
    topic: id(notifications.topic),
  };
}

const { base, full } = useDefaultAndFullApps(idsOf);

const STEPS_ARN = () => `<${base.ids.steps}.Arn>`;
const failover = () => definitionOf(base.template, base.ids.failover);
const recovery = () => definitionOf(base.template, base.ids.recovery);
const switchover = () => definitionOf(base.template, base.ids.switchover);

/** Where each state goes: its Next, or for a Choice each rule's Next and the Default. */
function transitions(asl: Asl): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(asl.States).map(([name, state]) => [
      name,
      state.Type === 'Choice'
        ? [
            ...(state.Choices ?? []).map((rule) => String(rule.Next)),
            ...(state.Default ? [state.Default] : []),
          ]
        : state.Next === undefined
          ? []
          : [state.Next],
    ]),
  );
}

/** The value → state branches of a routing Choice (the IsPresent-false guard and the Default apart). */
function branches(state: AslState | undefined): Record<string, string> {
  return Object.fromEntries(
    (state?.Choices ?? [])
      .filter((rule) => rule.StringEquals !== undefined)
      .map((rule) => [String(rule.StringEquals), String(rule.Next)]),
  );
}

describe.each([
  ['primary-failover', failover],
  ['replica-recovery', recovery],
  ['primary-switchover', switchover],
] as const)('the %s state machine', (runbook, definition) => {
  const tasks = () => Object.entries(definition().States).filter(([, state]) => state.Type === 'Task');

  it(`is a Standard state machine named <stack>-${runbook}, logging ALL with execution data, traced`, () => {
    const id = {
      'primary-failover': base.ids.failover,
      'replica-recovery': base.ids.recovery,
      'primary-switchover': base.ids.switchover,
    }[runbook];
    expect(resources(base.template)[id]?.Properties).toMatchObject({
      StateMachineName: `${base.stack.stackName}-${runbook}`,
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: arnOf(base.ids.executionLogs) } }],
      },
    });
  });

  it('starts where its flow table starts', () => {
    expect(definition().StartAt).toBe(RUNBOOK_FLOWS[runbook].start);
  });

  it('is exactly its flow table (functions/core/runbook-flows.ts): every route, every state', () => {
    const flow = RUNBOOK_FLOWS[runbook];
    const s = definition().States;
    const next = transitions(definition());
    const expectedNames = ['MarkFailed', 'Failed'];
    for (const [name, spec] of Object.entries(flow.states) as [string, FlowState<string>][]) {
      expectedNames.push(name);
      if (spec.type === 'task' && 'on' in spec) {
        expect([name, next[name]]).toEqual([name, [`${name}Outcome`]]);
        expect([name, branches(s[`${name}Outcome`])]).toEqual([name, spec.on]);
      } else if (spec.type === 'task' || spec.type === 'wait' || spec.type === 'approval')
        expect([name, next[name]]).toEqual([name, [spec.goto]]);
      else if (spec.type === 'choice') expect([name, branches(s[name])]).toEqual([name, spec.on]);
      else if (spec.type === 'ssm') {
        expectedNames.push('GetSsm', 'Resume');
        expect(branches(s.Resume)).toEqual(Object.fromEntries(spec.resume.map((r) => [r, r])));
      }
    }
    const named = Object.entries(s)
      .filter(([, state]) => state.Comment?.startsWith(ROUTING_COMMENT_PREFIX) !== true)
      .map(([name]) => name);
    expect(named.sort()).toEqual(expectedNames.sort());
  });

  it('invokes runbook-steps from every Task with { action, state: $ }, the result replacing the state', () => {
    const lambdaTasks = tasks().filter(([name]) => name !== 'GetSsm' && name !== 'RequestApproval');
    for (const [, state] of lambdaTasks) {
      expect(state.Resource).toBe(STEPS_ARN());
      expect(state.Parameters).toEqual({ action: expect.any(String), 'state.$': '$' });
      expect(state.ResultPath).toBeUndefined();
      expect(RUNBOOK_ACTIONS).toContain(state.Parameters?.action);
    }
  });

  it('retries transient errors on every Lambda Task (2 s, backoff 2, 3 retries), and Lambda runtime errors (5 s, 2 retries)', () => {
    for (const [name, state] of tasks().filter(([n]) => n !== 'GetSsm')) {
      expect([name, state.Retry?.slice(0, 2)]).toEqual([
        name,
        [
          { ErrorEquals: [...TRANSIENT_ERRORS], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 },
          {
            ErrorEquals: ['Lambda.Unknown', 'Sandbox.Timedout', 'Runtime.ExitError'],
            IntervalSeconds: 5,
            BackoffRate: 2,
            MaxAttempts: 2,
          },
        ],
      ]);
    }
    expect(RUNTIME_ERRORS).toEqual(['Lambda.Unknown', 'Sandbox.Timedout', 'Runtime.ExitError']);
  });

  it('catches every error of every Task but MarkFailed into MarkFailed with the error at $.error', () => {
    for (const [name, state] of tasks().filter(([n]) => n !== 'MarkFailed')) {
      expect([name, state.Catch?.at(-1)]).toEqual([
        name,
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' },
      ]);
    }
  });

  it('ends a failure in MarkFailed → Failed; MarkFailed itself catches nothing', () => {
    const { MarkFailed, Failed } = definition().States;
    expect(MarkFailed).toMatchObject({ Type: 'Task', Parameters: { action: 'markFailed' }, Next: 'Failed' });
    expect(MarkFailed?.Catch).toBeUndefined();
    expect(Failed).toMatchObject({ Type: 'Fail', Error: 'RunbookFailed' });
    expect(definition().States.Done).toEqual({ Type: 'Succeed' });
  });

  it('waits for a decision in RequestApproval: waitForTaskToken, timeout from the state, decision at $.approval', () => {
    const state = definition().States.RequestApproval;
    expect(state?.Resource).toMatch(/:states:::lambda:invoke\.waitForTaskToken$/);
    expect(state?.Parameters).toEqual({
      FunctionName: STEPS_ARN(),
      Payload: { action: 'requestApproval', 'state.$': '$', 'taskToken.$': '$$.Task.Token' },
    });
    expect(state?.TimeoutSecondsPath).toBe('$.approvalTimeoutSeconds');
    expect(state?.TimeoutSeconds).toBeUndefined();
    expect(state?.ResultPath).toBe('$.approval');
    expect(state?.Next).toBe('ApplyApproval');
  });

  it('sends a RequestApproval timeout to Expired with the state unchanged, before the catch-all', () => {
    expect(definition().States.RequestApproval?.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: null, Next: 'Expired' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' },
    ]);
    expect(definition().States.Expired).toMatchObject({
      Parameters: { action: 'recordExpired' },
      Next: 'ReleaseLock',
    });
  });

  it('polls an SSM Automation hook: WaitForSsm (10 s) → GetSsm → SsmStatus → Resume | WaitForSsm | MarkFailed', () => {
    const { WaitForSsm, GetSsm, SsmStatus } = definition().States;
    expect(WaitForSsm).toEqual({ Type: 'Wait', Seconds: 10, Next: 'GetSsm' });
    expect(GetSsm).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::aws-sdk:ssm:getAutomationExecution',
      Parameters: { 'AutomationExecutionId.$': '$.ssm.executionId' },
      ResultSelector: { 'AutomationExecutionStatus.$': '$.AutomationExecution.AutomationExecutionStatus' },
      ResultPath: '$.ssm.execution',
      Retry: [{ ErrorEquals: [...SSM_TRANSIENT_ERRORS], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 }],
      Next: 'SsmStatus',
    });
    const status = '$.ssm.execution.AutomationExecutionStatus';
    expect(SsmStatus?.Choices).toEqual([
      { Variable: status, StringEquals: 'Success', Next: 'Resume' },
      {
        Or: SSM_PENDING_STATUSES.map((value) => ({ Variable: status, StringEquals: value })),
        Next: 'WaitForSsm',
      },
    ]);
    expect(SsmStatus?.Default).toBe('MarkFailed');
  });

  it('guards every Choice: a missing field goes to MarkFailed first, an unexpected one by Default', () => {
    for (const [name, state] of Object.entries(definition().States).filter(
      ([n, s]) => s.Type === 'Choice' && n !== 'SsmStatus',
    )) {
      expect([name, state.Choices?.[0]]).toEqual([
        name,
        { Variable: expect.stringMatching(/^\$\.(next|mode|resume)$/), IsPresent: false, Next: 'MarkFailed' },
      ]);
      expect([name, state.Default]).toEqual([name, 'MarkFailed']);
    }
  });

  it('marks only the Choices the contract does not name as routing (left out of the local path)', () => {
    const routing = Object.entries(definition().States)
      .filter(([, s]) => s.Comment?.startsWith(ROUTING_COMMENT_PREFIX) === true)
      .map(([name]) => name);
    expect(routing.every((name) => name.endsWith('Outcome') || name === 'SsmStatus')).toBe(true);
    expect(definition().States.Resume?.Comment).toBeUndefined();
  });

  it('has no state that cannot be reached and no transition to a missing state', () => {
    const asl = definition();
    const edges = transitions(asl);
    for (const state of Object.values(asl.States)) for (const c of state.Catch ?? []) edges[c.Next] ??= [];
    const reached = new Set<string>();
    const visit = (name: string) => {
      if (reached.has(name)) return;
      reached.add(name);
      for (const next of [...(edges[name] ?? []), ...(asl.States[name]?.Catch ?? []).map((c) => c.Next)])
        visit(next);
    };
    visit(asl.StartAt);
    expect([...reached].sort()).toEqual(Object.keys(asl.States).sort());
  });
});

describe('the primary-failover flow', () => {
  it('routes every step on its $.next as the contract says', () => {
    const s = failover().States;
    expect(s.ReVerify?.Next).toBe('ReVerifyOutcome');
    expect(branches(s.ReVerifyOutcome)).toEqual({ proceed: 'TakeLock', abort: 'Done', wait: 'Rearm' });
    expect(branches(s.TakeLockOutcome)).toEqual({ locked: 'ChooseCandidate', blocked: 'Rearm' });
    expect(branches(s.ChooseCandidateOutcome)).toEqual({
      auto: 'Fence',
      approve: 'RequestApproval',
      'dry-run': 'RecordDryRun',
      'no-candidate': 'NoCandidate',
    });
    expect(branches(s.ApplyApprovalOutcome)).toEqual({ approved: 'Fence', rejected: 'ReleaseLock' });
    expect(branches(s.FenceOutcome)).toEqual({
      done: 'Promote',
      ssm: 'WaitForSsm',
      abort: 'Rearm',
      refused: 'Rearm',
    });
    expect(branches(s.PromoteOutcome)).toEqual({ done: 'UpdateCluster', ssm: 'WaitForSsm' });
    expect(branches(s.RepointOutcome)).toEqual({ done: 'Verify', ssm: 'WaitForSsm' });
    expect(branches(s.NoCandidateOutcome)).toEqual({ refused: 'Rearm' });
    expect(branches(s.Resume)).toEqual({
      Promote: 'Promote',
      Repoint: 'Repoint',
      UpdateCluster: 'UpdateCluster',
    });
    expect(s.Resume?.Choices?.[0]).toMatchObject({ Variable: '$.resume', IsPresent: false });
  });

  it('goes on unconditionally where the contract has a single arrow', () => {
    const next = transitions(failover());
    expect(next).toMatchObject({
      RecordDryRun: ['ReleaseLock'],
      RequestApproval: ['ApplyApproval'],
      Expired: ['ReleaseLock'],
      UpdateCluster: ['Repoint'],
      Verify: ['Complete'],
      Rearm: ['ReVerify'],
      Complete: ['Done'],
      ReleaseLock: ['Done'],
      MarkFailed: ['Failed'],
    });
  });

  it('retries Verify on NotYetPrimaryError as well: 2 s, backoff 2, 5 retries', () => {
    expect(failover().States.Verify?.Retry).toEqual([
      { ErrorEquals: [...TRANSIENT_ERRORS], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 },
      { ErrorEquals: [...RUNTIME_ERRORS], IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 2 },
      { ErrorEquals: ['NotYetPrimaryError'], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 5 },
    ]);
  });

  it('has exactly the contract states plus its routing Choices', () => {
    const named = Object.entries(failover().States)
      .filter(([, s]) => s.Comment?.startsWith(ROUTING_COMMENT_PREFIX) !== true)
      .map(([name]) => name);
    expect(named.sort()).toEqual(
      [
        'ReVerify',
        'TakeLock',
        'ChooseCandidate',
        'RecordDryRun',
        'RequestApproval',
        'ApplyApproval',
        'Expired',
        'Fence',
        'Promote',
        'Repoint',
        'UpdateCluster',
        'Verify',
        'Complete',
        'NoCandidate',
        'ReleaseLock',
        'MarkFailed',
        'Done',
        'Failed',
        'WaitForSsm',
        'GetSsm',
        'Resume',
        'Rearm',
      ].sort(),
    );
  });
});

describe('the primary-switchover flow', () => {
  it('restores writes whenever it is called off after StopWrites: no final position, not caught up, too late to promote', () => {
    const s = switchover().States;
    expect(branches(s.StopWritesOutcome)).toEqual({
      done: 'AwaitCatchUp',
      ssm: 'WaitForSsm',
      'called-off': 'ResumeWrites',
    });
    expect(branches(s.AwaitCatchUpOutcome)).toMatchObject({ 'timed-out': 'ResumeWrites' });
    expect(branches(s.PromoteOutcome)).toEqual({
      done: 'UpdateCluster',
      ssm: 'WaitForSsm',
      'called-off': 'ResumeWrites',
    });
    expect(transitions(switchover()).ResumeWrites).toEqual(['ReleaseLock']);
  });
});

describe('the replica-recovery flow', () => {
  it('routes every step as the contract says, on $.next and $.mode', () => {
    const s = recovery().States;
    expect(branches(s.ReVerifyOutcome)).toEqual({ proceed: 'TakeLock', abort: 'Done', wait: 'Rearm' });
    expect(branches(s.TakeLockOutcome)).toEqual({ locked: 'Mode', blocked: 'Rearm' });
    expect(s.Mode?.Choices?.[0]).toMatchObject({ Variable: '$.mode', IsPresent: false });
    expect(branches(s.Mode)).toEqual({
      auto: 'RestartReplication',
      approve: 'RequestApproval',
      'dry-run': 'RecordDryRun',
      // An operator's request: rejoin acts at once, rebuild starts at the rebuild hook.
      rejoin: 'RestartReplication',
      rebuild: 'Escalate',
    });
    expect(branches(s.ApplyApprovalOutcome)).toEqual({
      approved: 'RestartReplication',
      rejected: 'ReleaseLock',
    });
    expect(branches(s.RestartReplicationOutcome)).toEqual({
      done: 'WaitForProgress',
      ssm: 'WaitForSsm',
      preempted: 'Done',
    });
    expect(branches(s.VerifyProgressOutcome)).toEqual({
      recovered: 'Complete',
      'not-recovered': 'Escalate',
      'not-yet': 'WaitForProgress',
    });
    expect(branches(s.EscalateOutcome)).toEqual({
      rebuilt: 'WaitForProgress',
      paged: 'Complete',
      ssm: 'WaitForSsm',
      preempted: 'Done',
    });
    expect(branches(s.Resume)).toEqual({ WaitForProgress: 'WaitForProgress' });
  });

  it.each(['failover', 'recovery'] as const)(
    '%s: Rearm waits $.retryAfterSeconds, then looks again from ReVerify',
    (which) => {
      expect((which === 'failover' ? failover() : recovery()).States.Rearm).toEqual({
        Type: 'Wait',
        SecondsPath: '$.retryAfterSeconds',
        Next: 'ReVerify',
      });
    },
  );

  it('waits $.verifyAfterSeconds before VerifyProgress', () => {
    expect(recovery().States.WaitForProgress).toEqual({
      Type: 'Wait',
      SecondsPath: '$.verifyAfterSeconds',
      Next: 'VerifyProgress',
    });
  });

  it('has exactly the contract states plus its routing Choices', () => {
    const named = Object.entries(recovery().States)
      .filter(([, s]) => s.Comment?.startsWith(ROUTING_COMMENT_PREFIX) !== true)
      .map(([name]) => name);
    expect(named.sort()).toEqual(
      [
        'ReVerify',
        'TakeLock',
        'Mode',
        'RecordDryRun',
        'RequestApproval',
        'ApplyApproval',
        'Expired',
        'RestartReplication',
        'WaitForProgress',
        'VerifyProgress',
        'Escalate',
        'Complete',
        'ReleaseLock',
        'MarkFailed',
        'Done',
        'Failed',
        'WaitForSsm',
        'GetSsm',
        'Resume',
        'Rearm',
      ].sort(),
    );
  });
});

describe('the state machines role', () => {
  it.each(['failoverRole', 'recoveryRole'] as const)(
    '%s may invoke the runbook-steps function (unqualified) and read SSM Automation executions, nothing else but logs and X-Ray',
    (role) => {
      const statements = allowed(statementsOfRole(base.template, base.ids[role]));
      const named = statements.filter((s) => !s.resources.includes('*'));
      expect(named).toEqual([
        { effect: 'Allow', actions: ['lambda:InvokeFunction'], resources: [arnOf(base.ids.steps)] },
        {
          effect: 'Allow',
          actions: ['ssm:GetAutomationExecution'],
          resources: [
            {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  `:ssm:${TEST_REGION}:`,
                  { Ref: 'AWS::AccountId' },
                  ':automation-execution/*',
                ],
              ],
            },
          ],
        },
      ]);
      const onStar = statements.filter((s) => s.resources.includes('*')).flatMap((s) => s.actions);
      expect(new Set(onStar)).toEqual(new Set([...LOG_DELIVERY_ACTIONS, ...STATE_MACHINE_XRAY_ACTIONS]));
    },
  );

  it('can be assumed by Step Functions for state machines of this account only', () => {
    expect(
      resources(base.template)[base.ids.failoverRole]?.Properties?.AssumeRolePolicyDocument,
    ).toMatchObject({
      Statement: [
        expect.objectContaining({
          Principal: { Service: 'states.amazonaws.com' },
          Condition: expect.objectContaining({
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          }),
        }),
      ],
    });
  });
});

describe('the execution log group', () => {
  it('is encrypted with a KMS key and kept a year, retained with the stack', () => {
    expect(resources(base.template)[base.ids.executionLogs]).toMatchObject({
      Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
      DeletionPolicy: 'Retain',
    });
  });
});

describe('the runbook-steps function', () => {
  const props = (t: Template, id: string) => resources(t)[id]?.Properties;

  it('gets TABLE_NAME and ALERTS_TOPIC_ARN, and a two-minute timeout', () => {
    expect(props(base.template, base.ids.steps)).toMatchObject({
      Timeout: 120,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: base.ids.table },
          ALERTS_TOPIC_ARN: { Ref: base.ids.topic },
          POWERTOOLS_SERVICE_NAME: 'runbook-steps',
        },
      },
    });
  });

  it('may read, write and condition-check items of the table (transactions), publish alerts, nothing more by default', () => {
    const statements = allowed(statementsOfFunction(base.template, base.ids.steps));
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')))).toEqual([
      {
        effect: 'Allow',
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: [arnOf(base.ids.table)],
      },
    ]);
    expect(statements.filter((s) => s.actions.includes('sns:Publish'))).toEqual([
      { effect: 'Allow', actions: ['sns:Publish'], resources: [{ Ref: base.ids.topic }] },
    ]);
    const services = new Set(statements.flatMap((s) => s.actions.map((a) => a.split(':')[0])));
    expect(services).toEqual(new Set(['logs', 'xray', 'dynamodb', 'kms', 'sns']));
    expect(props(base.template, base.ids.steps)?.VpcConfig).toBeUndefined();
  });

  it('may invoke exactly the configured hook functions, as given (a qualified ARN stays qualified)', () => {
    const statements = allowed(statementsOfFunction(full.template, full.ids.steps));
    expect(statements.filter((s) => s.actions.includes('lambda:InvokeFunction'))).toEqual([
      {
        effect: 'Allow',
        actions: ['lambda:InvokeFunction'],
        resources: ALL_OPTIONS_CONTEXT.hookFunctionArns.split(','),
      },
    ]);
  });

  it('may start exactly the configured SSM documents at their default version (AWS-owned ones without account)', () => {
    const statements = allowed(statementsOfFunction(full.template, full.ids.steps));
    const own = (resource: string) => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, `:ssm:${TEST_REGION}:`, { Ref: 'AWS::AccountId' }, resource],
      ],
    });
    const awsOwned = (resource: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ssm:${TEST_REGION}:${resource}`]],
    });
    expect(statements.filter((s) => s.actions.includes('ssm:StartAutomationExecution'))).toEqual([
      {
        effect: 'Allow',
        actions: ['ssm:StartAutomationExecution'],
        resources: [
          own(':document/RestartPostgresReplication'),
          own(':automation-definition/RestartPostgresReplication:$DEFAULT'),
          awsOwned(':document/AWS-RestartEC2Instance'),
          awsOwned(':automation-definition/AWS-RestartEC2Instance:$DEFAULT'),
        ],
      },
    ]);
  });

  it('reads the configured database secret (DATABASE_SECRET_ARN), that secret only', () => {
    const statements = allowed(statementsOfFunction(full.template, full.ids.steps));
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('secretsmanager:')))).toEqual([
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [ALL_OPTIONS_CONTEXT.databaseSecretArn],
      },
    ]);
    expect(props(full.template, full.ids.steps)).toMatchObject({
      Environment: { Variables: { DATABASE_SECRET_ARN: ALL_OPTIONS_CONTEXT.databaseSecretArn } },
    });
  });

  it('runs in the configured subnets with the configured security group, with the ENI actions named inline', () => {
    expect(props(full.template, full.ids.steps)?.VpcConfig).toEqual({
      SubnetIds: ALL_OPTIONS_CONTEXT.runbookSubnetIds.split(','),
      SecurityGroupIds: [ALL_OPTIONS_CONTEXT.runbookSecurityGroupId],
    });
    const statements = allowed(statementsOfFunction(full.template, full.ids.steps));
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('ec2:')))).toEqual([
      {
        effect: 'Allow',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      },
    ]);
    const role = logicalIdOfConstruct(full.stack, full.stack.runbooks.stepsFunction.role);
    expect(resources(full.template)[role]?.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  it('adds no security group or egress rule of its own', () => {
    full.template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    full.template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
  });
});

describe('outputs', () => {
  it('exports the three state machine ARNs', () => {
    base.template.hasOutput('FailoverStateMachineArn', { Value: { Ref: base.ids.failover } });
    base.template.hasOutput('RecoveryStateMachineArn', { Value: { Ref: base.ids.recovery } });
    base.template.hasOutput('SwitchoverStateMachineArn', { Value: { Ref: base.ids.switchover } });
  });
});

describe('Runbooks props', () => {
  const build = (stackName: string) => () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'RunbooksProps', {
      stackName,
      env: { region: TEST_REGION },
    });
    const table = new TableV2(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    return new Runbooks(stack, 'Runbooks', { table, alertsTopic: new Topic(stack, 'Topic') });
  };

  it('rejects a stack name too long for the state machine names, saying how long it may be', () => {
    expect(build('S'.repeat(MAX_STACK_NAME_LENGTH + 1))).toThrow(
      new RegExp(`the stack name may have at most ${MAX_STACK_NAME_LENGTH}`),
    );
  });

  it(`accepts a stack name of ${MAX_STACK_NAME_LENGTH} characters`, () => {
    expect(build('S'.repeat(MAX_STACK_NAME_LENGTH))).not.toThrow();
  });
});
