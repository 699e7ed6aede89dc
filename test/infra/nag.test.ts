import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Stream, StreamEncryption } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { OPERATOR_ROUTES } from '../../functions/core/operator-routes';
import { VPC_ENI_ACTIONS } from '../../infra/constructs/vpc-placement';
import {
  ALL_OPTIONS_CONTEXT,
  LOG_DELIVERY_ACTIONS,
  TEST_REGION,
  type TestApp,
  testApp,
  validationFindings,
} from './support';

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Every `Validations.of(x).acknowledge()` in the tree: construct path, rule id and reason. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** What Lambda's Tracing.ACTIVE adds on "*" to every function role. */
const X_RAY_WRITE_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
/**
 * What a state machine role gets on "*" for execution logs (CloudWatch Logs log delivery) and X-Ray
 * tracing; none of these actions has resource-level permissions.
 */
const STATE_MACHINE_ON_STAR = [...LOG_DELIVERY_ACTIONS, 'xray:GetSamplingRules', 'xray:GetSamplingTargets'];

/** Acknowledgements of the ingest construct; the change-events stream's only with `changeStreams`. */
const ingestAcknowledgements = (changeStreams: boolean) => [
  'Ingest/Heartbeats AwsSolutions-KDS3',
  ...(changeStreams ? ['Ingest/ChangeEvents AwsSolutions-KDS3'] : []),
  'Ingest/Quarantine AwsSolutions-SQS3',
  'Ingest/Failures AwsSolutions-SQS3',
  'Ingest/Heartbeat/Role AwsSolutions-IAM5[Resource::*]',
  ...(changeStreams ? ['Ingest/ChangeStream/Role AwsSolutions-IAM5[Resource::*]'] : []),
];
/** Acknowledgements every configuration has (construct path below the stack, rule id). */
const BASE_ACKNOWLEDGEMENTS = ingestAcknowledgements(false);
const RUNBOOKS_ACKNOWLEDGEMENTS = [
  'Runbooks/Steps/Role AwsSolutions-IAM5[Resource::*]',
  'Runbooks/PrimaryFailover/Role AwsSolutions-IAM5[Resource::*]',
  `Runbooks/PrimaryFailover/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${TEST_REGION}:<AWS::AccountId>:automation-execution/*]`,
  'Runbooks/ReplicaRecovery/Role AwsSolutions-IAM5[Resource::*]',
  `Runbooks/ReplicaRecovery/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${TEST_REGION}:<AWS::AccountId>:automation-execution/*]`,
  'Runbooks/PrimarySwitchover/Role AwsSolutions-IAM5[Resource::*]',
  `Runbooks/PrimarySwitchover/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${TEST_REGION}:<AWS::AccountId>:automation-execution/*]`,
];
/** The operator API: one COG4 (IAM, not Cognito) per route of the route table. */
const OPERATOR_API_ACKNOWLEDGEMENTS = [
  'OperatorApi/Function/Role AwsSolutions-IAM5[Resource::*]',
  ...['primary-failover', 'replica-recovery', 'primary-switchover'].map(
    (runbook) =>
      `OperatorApi/Function/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${TEST_REGION}:<AWS::AccountId>:execution:ReplicaSentinel-${runbook}:*]`,
  ),
  'OperatorApi/Api/CloudWatchRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
  'OperatorApi/Api/DeploymentStage.v1 AwsSolutions-APIG3',
  ...Object.values(OPERATOR_ROUTES).map(
    (route) => `OperatorApi/Api/Default${route.path}/POST AwsSolutions-COG4`,
  ),
];
/** Only with the runbookVpcId / runbookSubnetIds / runbookSecurityGroupId placement: CDK's import warnings. */
const RUNBOOKS_VPC_ACKNOWLEDGEMENTS = [
  'Runbooks/Vpc @aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
  'Runbooks/Subnet0 @aws-cdk/aws-ec2:noSubnetRouteTableId',
  'Runbooks/Subnet1 @aws-cdk/aws-ec2:noSubnetRouteTableId',
];
/** Only with slackSigningSecretArn: the route Slack calls, authenticated by its request signature. */
const SLACK_ROUTE_ACKNOWLEDGEMENTS = [
  'OperatorApi/Api/Default/slack/actions/POST AwsSolutions-APIG4',
  'OperatorApi/Api/Default/slack/actions/POST AwsSolutions-COG4',
];
const DETECTOR_ACKNOWLEDGEMENTS = [
  'Detector/Failures AwsSolutions-SQS3',
  'Detector/SweepDeadLetters AwsSolutions-SQS3',
  'Detector/Sweep/Role AwsSolutions-IAM5[Resource::*]',
  'Detector/SweepMachine AwsSolutions-SF1',
  'Detector/SweepMachine/Role AwsSolutions-IAM5[Resource::*]',
  'Detector/OnTransition/Role AwsSolutions-IAM5[Resource::*]',
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

describe.each([
  {
    // The app exactly as `cdk synth` builds it (infra/build-app.ts), cdk-nag plugin and bundling included.
    configuration: 'the default app',
    options: { nag: true },
    expected: [
      ...BASE_ACKNOWLEDGEMENTS,
      ...RUNBOOKS_ACKNOWLEDGEMENTS,
      ...OPERATOR_API_ACKNOWLEDGEMENTS,
      ...DETECTOR_ACKNOWLEDGEMENTS,
    ],
    onStar: [...X_RAY_WRITE_ACTIONS, ...STATE_MACHINE_ON_STAR],
  },
  {
    // Every optional context value set: Chatbot channel and notify-slack too. Bundling plays no part in
    // the findings, so it is skipped here to keep the suite fast.
    configuration:
      'the app with every option (Chatbot, notify-slack, sweep interval, change streams, stream shards, provisioned table, hooks, database secret, VPC, Slack route)',
    options: { nag: true, bundling: false, context: ALL_OPTIONS_CONTEXT },
    expected: [
      ...ingestAcknowledgements(true),
      'Notifications/DeadLetters AwsSolutions-SQS3',
      'Notifications/NotifySlack/Role AwsSolutions-IAM5[Resource::*]',
      ...RUNBOOKS_VPC_ACKNOWLEDGEMENTS,
      ...RUNBOOKS_ACKNOWLEDGEMENTS,
      ...OPERATOR_API_ACKNOWLEDGEMENTS,
      ...SLACK_ROUTE_ACKNOWLEDGEMENTS,
      ...DETECTOR_ACKNOWLEDGEMENTS,
    ],
    onStar: [...X_RAY_WRITE_ACTIONS, ...STATE_MACHINE_ON_STAR, ...VPC_ENI_ACTIONS],
  },
])('cdk-nag AwsSolutions on $configuration', ({ options, expected, onStar: allowedOnStar }) => {
  let t: TestApp;
  let synthError: unknown;

  beforeAll(() => {
    t = testApp(options);
    try {
      t.app.synth();
    } catch (error) {
      // Kept for the first test: the report (written before the throw) lists the findings.
      synthError = error;
    }
  });

  afterAll(() => t.cleanup());

  it('synthesizes with no unacknowledged AwsSolutions finding, error or warning', () => {
    expect(validationFindings(t.outdir).filter((f) => f.plugin === 'AwsSolutions')).toEqual([]);
    expect(synthError).toBeUndefined();
  });

  it("passes CDK's own template validation with no finding either", () => {
    expect(validationFindings(t.outdir)).toEqual([]);
  });

  it('leaves no CDK warning unacknowledged (what `cdk synth` would print)', () => {
    expect(Annotations.fromStack(t.stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges only these findings, each on its own construct, never on the stack or the app', () => {
    const stack = t.stack.node.path;
    expect(acknowledgements(t.app).map(({ path, id }) => `${path} ${id}`)).toEqual(
      expected.map((entry) => `${stack}/${entry}`),
    );
  });

  it('keeps the IAM5 acknowledgements honest: "*" only for the actions without resource-level permissions', () => {
    const template = JSON.parse(readFileSync(join(t.outdir, t.stack.templateFile), 'utf8')) as {
      Resources: Record<
        string,
        { Type: string; Properties: { PolicyDocument?: { Statement: Statement[] } } }
      >;
    };
    const policies = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy',
    );
    const onStar = policies
      .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? [])
      .filter((s) => s.Effect === 'Allow' && [s.Resource].flat().includes('*'))
      .flatMap((s) => [s.Action].flat());
    expect(new Set(onStar)).toEqual(new Set(allowedOnStar));
    // and no wildcard action anywhere in an Allow (lambda:InvokeFunction on `<function>:*` included)
    const allowed = policies
      .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? [])
      .filter((s) => s.Effect === 'Allow');
    expect(allowed.flatMap((s) => [s.Action].flat())).not.toContainEqual(expect.stringContaining('*'));
    // The one `:*` allowed: the operator function's DescribeExecution / StopExecution on one runbook state
    // machine's executions (named by incident ids at run time, acknowledged as IAM5 by name above).
    const executionGrant = (s: { Action: string | string[] }) =>
      same([s.Action].flat(), ['states:DescribeExecution', 'states:StopExecution']);
    expect(JSON.stringify(allowed.filter((s) => !executionGrant(s)).map((s) => s.Resource))).not.toMatch(
      /:\*"/,
    );
    expect(JSON.stringify(allowed.filter(executionGrant).map((s) => s.Resource))).toMatch(
      /:execution:ReplicaSentinel-primary-failover:\*".*:execution:ReplicaSentinel-replica-recovery:\*".*:execution:ReplicaSentinel-primary-switchover:\*"/,
    );
  });

  it('gives every acknowledgement a reason a reviewer can check', () => {
    for (const { reason } of acknowledgements(t.app)) expect(reason.length).toBeGreaterThan(80);
  });
});

// The gate itself: the same wiring must surface a finding, or the tests above would pass vacuously.
// These apps skip esbuild bundling (it plays no part in the findings) to stay fast.
describe('the cdk-nag gate', () => {
  let t: TestApp | undefined;

  afterEach(() => t?.cleanup());

  it('fails the synth on an unacknowledged error-level finding', () => {
    t = testApp({ nag: true, bundling: false });
    new Queue(t.stack, 'PlaintextQueue', { encryption: QueueEncryption.UNENCRYPTED });
    const app = t.app;

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    expect(validationFindings(t.outdir)).toContainEqual({
      plugin: 'AwsSolutions',
      rule: 'AwsSolutions-SQS4',
      severity: 'error',
      constructPaths: [`${t.stack.node.path}/PlaintextQueue/Resource`],
    });
  });

  it('fails the synth on an unacknowledged warning-level finding too', () => {
    t = testApp({ nag: true, bundling: false });
    new Stream(t.stack, 'UnacknowledgedCmkStream', {
      encryption: StreamEncryption.KMS,
      encryptionKey: new Key(t.stack, 'StreamKey', { enableKeyRotation: true }),
    });
    const app = t.app;

    // cdk-nag marks its report failed on any violation, warnings included, so CDK stops the synth.
    expect(() => app.synth()).toThrow(/AwsSolutions-KDS3/);
    expect(validationFindings(t.outdir)).toEqual([
      {
        plugin: 'AwsSolutions',
        rule: 'AwsSolutions-KDS3',
        severity: 'warning',
        constructPaths: [`${t.stack.node.path}/UnacknowledgedCmkStream/Resource`],
      },
    ]);
  });
});
