import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/build-app';
import {
  ALL_OPTIONS_CONTEXT,
  logicalIdOfConstruct,
  resources,
  statementsOfFunction,
  TEST_REGION,
  type TestApp,
  testApp,
} from './support';

// Context values of `cdk deploy -c key=value`. Malformed ones fail while the app is built (no synthesis).
const build = (context: Record<string, unknown>) => () =>
  createApp({ context: { region: TEST_REGION, 'aws:cdk:bundling-stacks': [], ...context }, nag: false });

describe('context values that configure the stack', () => {
  // One synthesis: every option set.
  let t: TestApp;
  let template: Template;

  beforeAll(() => {
    t = testApp({ bundling: false, context: ALL_OPTIONS_CONTEXT });
    template = Template.fromStack(t.stack);
  });

  afterAll(() => t.cleanup());

  it('passes sweepIntervalSeconds (a string on the command line) to the sweep function', () => {
    const fn = logicalIdOfConstruct(t.stack, t.stack.detector.sweepFunction.fn);
    expect(resources(template)[fn]?.Properties).toMatchObject({
      Environment: { Variables: { SWEEP_INTERVAL_SECONDS: '5' } },
    });
  });

  it('deploys the Chatbot channel and notify-slack when their values are given', () => {
    expect(t.stack.notifications.chatbot).toBeDefined();
    expect(t.stack.notifications.notifySlack).toBeDefined();
  });

  it('places runbook-steps in the given subnets and passes the database secret (comma-separated lists split)', () => {
    const fn = logicalIdOfConstruct(t.stack, t.stack.runbooks.stepsFunction.fn);
    expect(resources(template)[fn]?.Properties).toMatchObject({
      VpcConfig: {
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      },
      Environment: { Variables: { DATABASE_SECRET_ARN: ALL_OPTIONS_CONTEXT.databaseSecretArn } },
    });
  });

  it('adds the Slack route to the operator API when slackSigningSecretArn is given', () => {
    expect(t.stack.operatorApi.api.root.getResource('slack')?.getResource('actions')).toBeDefined();
  });
});

describe('runbook context values given as arrays (cdk.json)', () => {
  it('accepts hookFunctionArns and hookSsmDocuments as arrays of strings', () => {
    expect(
      build({
        hookFunctionArns: [`arn:aws:lambda:${TEST_REGION}:123456789012:function:fence`],
        hookSsmDocuments: ['RestartPostgres', 'AWS-RestartEC2Instance'],
      }),
    ).not.toThrow();
  });
});

describe('malformed context values fail the synth, naming the context key', () => {
  const secretArn = ALL_OPTIONS_CONTEXT.slackWebhookSecretArn;

  it.each([
    ['0', /sweepIntervalSeconds must be an integer from 1 to 60/],
    ['61', /sweepIntervalSeconds must be an integer from 1 to 60/],
    ['2.5', /sweepIntervalSeconds must be an integer from 1 to 60/],
    ['ten', /sweepIntervalSeconds must be an integer from 1 to 60/],
  ])('sweepIntervalSeconds=%s', (value, message) => {
    expect(build({ sweepIntervalSeconds: value })).toThrow(message);
  });

  it('accepts sweepIntervalSeconds as a number too (cdk.json)', () => {
    expect(build({ sweepIntervalSeconds: 30 })).not.toThrow();
  });

  it.each([
    ['an SNS topic ARN', `arn:aws:sns:${TEST_REGION}:123456789012:alerts`],
    [
      'a partial secret ARN (no 6-character suffix)',
      `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:webhook`,
    ],
    ['a secret in another region', secretArn.replace(TEST_REGION, 'us-east-1')],
    ['a plain URL', 'https://hooks.slack.com/services/T000/B000/XXXX'],
  ])('slackWebhookSecretArn that is %s', (_label, value) => {
    expect(build({ slackWebhookSecretArn: value })).toThrow(
      /context value slackWebhookSecretArn must be the complete ARN of a Secrets Manager secret/,
    );
  });

  it('slackWebhookSecretKeyArn that is not a KMS key ARN', () => {
    expect(
      build({ slackWebhookSecretArn: secretArn, slackWebhookSecretKeyArn: 'alias/aws/secretsmanager' }),
    ).toThrow(/context value slackWebhookSecretKeyArn must be the ARN of a KMS key/);
  });

  it('slackWebhookSecretKeyArn without slackWebhookSecretArn', () => {
    expect(build({ slackWebhookSecretKeyArn: ALL_OPTIONS_CONTEXT.slackWebhookSecretKeyArn })).toThrow(
      /slackWebhookSecretKeyArn is given without slackWebhookSecretArn/,
    );
  });

  it.each([
    [
      'chatbotSlackWorkspaceId',
      'my-workspace',
      /context value chatbotSlackWorkspaceId must be a Slack workspace/,
    ],
    ['chatbotSlackChannelId', '#alerts', /context value chatbotSlackChannelId must be a Slack channel id/],
  ])('%s=%s', (key, value, message) => {
    const valid = {
      chatbotSlackWorkspaceId: ALL_OPTIONS_CONTEXT.chatbotSlackWorkspaceId,
      chatbotSlackChannelId: ALL_OPTIONS_CONTEXT.chatbotSlackChannelId,
    };
    expect(build({ ...valid, [key]: value })).toThrow(message);
  });

  it.each([
    ['a plain function name', 'fence-hook'],
    ['a function in another region', `arn:aws:lambda:us-east-1:123456789012:function:fence-hook`],
    [
      'an SNS topic ARN among valid ones',
      `arn:aws:lambda:${TEST_REGION}:123456789012:function:ok,arn:aws:sns:${TEST_REGION}:123456789012:t`,
    ],
    ['an empty list', ''],
  ])('hookFunctionArns that is %s', (_label, value) => {
    expect(build({ hookFunctionArns: value })).toThrow(
      /context value hookFunctionArns must be a comma-separated list of Lambda function ARNs/,
    );
  });

  it.each([
    ['a document ARN', `arn:aws:ssm:${TEST_REGION}:123456789012:document/RestartPostgres`],
    ['a name with a space', 'Restart Postgres'],
  ])('hookSsmDocuments that is %s', (_label, value) => {
    expect(build({ hookSsmDocuments: value })).toThrow(
      /context value hookSsmDocuments must be a comma-separated list of SSM Automation document names/,
    );
  });

  it.each(['databaseSecretArn', 'slackSigningSecretArn'])('%s that is a partial secret ARN', (key) => {
    expect(build({ [key]: `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:db` })).toThrow(
      new RegExp(`context value ${key} must be the complete ARN of a Secrets Manager secret`),
    );
  });

  it.each([
    ['runbookVpcId', 'my-vpc', /context value runbookVpcId must be a VPC id/],
    [
      'runbookSubnetIds',
      'subnet-0123456789abcdef0,private-a',
      /context value runbookSubnetIds must be a comma-separated list of subnet ids/,
    ],
    ['runbookSecurityGroupId', 'default', /context value runbookSecurityGroupId must be a security group id/],
  ])('%s=%s', (key, value, message) => {
    const valid = {
      runbookVpcId: ALL_OPTIONS_CONTEXT.runbookVpcId,
      runbookSubnetIds: ALL_OPTIONS_CONTEXT.runbookSubnetIds,
      runbookSecurityGroupId: ALL_OPTIONS_CONTEXT.runbookSecurityGroupId,
    };
    expect(build({ ...valid, [key]: value })).toThrow(message);
  });

  it('a VPC placement without subnets and security group, naming both', () => {
    expect(build({ runbookVpcId: ALL_OPTIONS_CONTEXT.runbookVpcId })).toThrow(
      /context value runbookSubnetIds and runbookSecurityGroupId is missing/,
    );
  });

  it.each([
    ['chatbotSlackWorkspaceId', { chatbotSlackChannelId: ALL_OPTIONS_CONTEXT.chatbotSlackChannelId }],
    ['chatbotSlackChannelId', { chatbotSlackWorkspaceId: ALL_OPTIONS_CONTEXT.chatbotSlackWorkspaceId }],
  ])('a Chatbot channel without %s', (missing, context) => {
    expect(build(context)).toThrow(new RegExp(`context value ${missing} is missing`));
  });
});

describe('the configuration file (-c config=FILE) together with context values', () => {
  const directory = mkdtempSync(join(tmpdir(), 'replica-sentinel-build-app-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${TEST_REGION}:123456789012:${resource}`;
  const FILE_WEBHOOK = arn('secretsmanager', 'secret:file-webhook-AbCdEf');
  const file = join(directory, 'clusters.yaml');
  writeFileSync(
    file,
    [
      'clusters:',
      '  - id: orders',
      '    engine: postgresql',
      '    fencing: trust-quorum',
      '    nodes: [{ id: p1, url: "postgresql://sentinel@10.0.0.1/app" }, { id: p2, url: "postgresql://sentinel@10.0.0.2/app" }]',
      '    hooks:',
      `      promote: { type: lambda, functionArn: "${arn('lambda', 'function:file-promote')}" }`,
      '      fence: { type: ssm, documentName: FileFenceDocument }',
      'notifications:',
      `  slackWebhookSecretArn: ${FILE_WEBHOOK}`,
      '  chatbot: { workspaceId: T0FILE00001, channelId: C0FILE00001 }',
    ].join('\n'),
  );

  /** Builds the app, returning it with what it printed on stderr. */
  function buildWith(context: Record<string, unknown>) {
    const printed: string[] = [];
    const warn = console.warn;
    console.warn = (message: unknown) => printed.push(String(message));
    try {
      const { stack } = createApp({
        context: { region: TEST_REGION, 'aws:cdk:bundling-stacks': [], config: file, ...context },
        nag: false,
      });
      return { stack, template: Template.fromStack(stack), printed };
    } finally {
      console.warn = warn;
    }
  }

  it("lets runbook-steps invoke the file's Lambda hooks and start its SSM documents, besides the context's", () => {
    const { stack, template } = buildWith({ hookFunctionArns: ALL_OPTIONS_CONTEXT.hookFunctionArns });
    const statements = statementsOfFunction(
      template,
      logicalIdOfConstruct(stack, stack.runbooks.stepsFunction.fn),
    );
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['lambda:InvokeFunction'],
      resources: [...ALL_OPTIONS_CONTEXT.hookFunctionArns.split(','), arn('lambda', 'function:file-promote')],
    });
    expect(JSON.stringify(statements)).toContain('document/FileFenceDocument');
  });

  it('takes notifications from the file when no context value sets them', () => {
    const { stack, template, printed } = buildWith({});
    const notifySlack = stack.notifications.notifySlack;
    if (notifySlack === undefined) throw new Error('no notify-slack function');
    expect(resources(template)[logicalIdOfConstruct(stack, notifySlack.fn)]?.Properties).toMatchObject({
      Environment: { Variables: { SLACK_WEBHOOK_SECRET_ARN: FILE_WEBHOOK } },
    });
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackChannelId: 'C0FILE00001',
    });
    expect(printed).toEqual([]);
  });

  it('prefers a context value over the same setting in the file, and says so', () => {
    const { stack, template, printed } = buildWith({
      slackWebhookSecretArn: ALL_OPTIONS_CONTEXT.slackWebhookSecretArn,
    });
    const notifySlack = stack.notifications.notifySlack;
    if (notifySlack === undefined) throw new Error('no notify-slack function');
    expect(resources(template)[logicalIdOfConstruct(stack, notifySlack.fn)]?.Properties).toMatchObject({
      Environment: { Variables: { SLACK_WEBHOOK_SECRET_ARN: ALL_OPTIONS_CONTEXT.slackWebhookSecretArn } },
    });
    expect(printed).toEqual([`note: context value slackWebhookSecretArn overrides the value in ${file}`]);
  });
});
