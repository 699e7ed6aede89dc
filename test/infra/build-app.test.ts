import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
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

  it('hookSsmRoleArns that are not IAM role ARNs', () => {
    expect(build({ hookSsmRoleArns: 'arn:aws:iam::123456789012:user/ops' })).toThrow(
      /context value hookSsmRoleArns must be a comma-separated list of IAM role ARNs .*not valid: "arn:aws:iam::123456789012:user\/ops"/,
    );
  });

  it('slackWebhookSecretKeyArn without slackWebhookSecretArn', () => {
    expect(build({ slackWebhookSecretKeyArn: ALL_OPTIONS_CONTEXT.slackWebhookSecretKeyArn })).toThrow(
      'context value slackWebhookSecretKeyArn is given without slackWebhookSecretArn (neither in the context nor in the config file)',
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
    [
      'runbookSecurityGroupId',
      'default',
      /context value runbookSecurityGroupId must be a comma-separated list of security group ids/,
    ],
  ])('%s=%s', (key, value, message) => {
    const valid = {
      runbookVpcId: ALL_OPTIONS_CONTEXT.runbookVpcId,
      runbookSubnetIds: ALL_OPTIONS_CONTEXT.runbookSubnetIds,
      runbookSecurityGroupId: ALL_OPTIONS_CONTEXT.runbookSecurityGroupId,
    };
    expect(build({ ...valid, [key]: value })).toThrow(message);
  });

  it('a VPC placement without subnets and security group, naming both', () => {
    expect(build({ vpcId: ALL_OPTIONS_CONTEXT.runbookVpcId })).toThrow(
      'context value subnetIds and securityGroupIds is missing: a network needs vpcId, subnetIds and securityGroupIds',
    );
  });

  it('vpcEndpoints without route tables', () => {
    expect(
      build({
        vpcId: ALL_OPTIONS_CONTEXT.runbookVpcId,
        subnetIds: ALL_OPTIONS_CONTEXT.runbookSubnetIds,
        securityGroupIds: ALL_OPTIONS_CONTEXT.runbookSecurityGroupId,
        vpcEndpoints: 'true',
      }),
    ).toThrow('network.vpcEndpoints needs routeTableIds (for the DynamoDB gateway endpoint)');
  });

  it.each([
    ['chatbotSlackWorkspaceId', { chatbotSlackChannelId: ALL_OPTIONS_CONTEXT.chatbotSlackChannelId }],
    ['chatbotSlackChannelId', { chatbotSlackWorkspaceId: ALL_OPTIONS_CONTEXT.chatbotSlackWorkspaceId }],
  ])('a Chatbot channel without %s', (missing, context) => {
    expect(build(context)).toThrow(new RegExp(`context value ${missing} is missing`));
  });
});

describe('secrets the clusters name, and their KMS keys', () => {
  const directory = mkdtempSync(join(tmpdir(), 'replica-sentinel-secrets-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${TEST_REGION}:123456789012:${resource}`;
  const KEY = (id: string) => arn('kms', `key/${id}-1111-2222-3333-444455556666`);
  const DB = arn('secretsmanager', 'secret:orders-db-AbCdEf');
  const HOOK = arn('secretsmanager', 'secret:hook-signing-AbCdEf');
  const PROBE = arn('secretsmanager', 'secret:probe-login-AbCdEf');
  const WEBHOOK = arn('secretsmanager', 'secret:webhook-AbCdEf');
  const file = join(directory, 'clusters.yaml');
  writeFileSync(
    file,
    [
      'clusters:',
      '  - id: orders',
      '    engine: postgresql',
      '    fencing: trust-quorum',
      `    credentialsSecretArn: ${DB}`,
      `    credentialsKmsKeyArn: ${KEY('aaaaaaaa')}`,
      '    nodes: [{ id: p1, url: "postgresql://sentinel@10.0.0.1/app" }, { id: p2, url: "postgresql://sentinel@10.0.0.2/app" }]',
      '    hooks:',
      `      repoint: { type: https, url: "https://ops.example.com/repoint", secretArn: "${HOOK}", secretKmsKeyArn: "${KEY('bbbbbbbb')}" }`,
      '  - id: cache',
      '    engine: redis',
      '    fencing: trust-quorum',
      '    nodes: [{ id: r1, url: "redis://10.0.1.1:6379" }, { id: r2, url: "redis://10.0.1.2:6379" }]',
      'notifications:',
      `  slackWebhookSecretArn: ${WEBHOOK}`,
      'probe:',
      `  credentialsSecretArn: ${PROBE}`,
      `  credentialsKmsKeyArn: ${KEY('cccccccc')}`,
    ].join('\n'),
  );
  const statementsOf = (
    context: Record<string, unknown>,
    pick: (s: ReturnType<ReturnType<typeof build>>) => unknown,
  ) => {
    const built = build({ config: file, ...context })();
    const template = Template.fromStack(built.stack);
    const fn = pick(built) as Parameters<typeof logicalIdOfConstruct>[1];
    return { template, statements: statementsOfFunction(template, logicalIdOfConstruct(built.stack, fn)) };
  };
  const decrypt = (keys: string[]) => ({
    effect: 'Allow',
    actions: ['kms:Decrypt'],
    resources: keys,
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${TEST_REGION}.amazonaws.com` } },
  });

  it("lets runbook-steps read the clusters' secrets and decrypt them with their keys, through Secrets Manager only", () => {
    const { statements } = statementsOf({}, ({ stack }) => stack.runbooks.stepsFunction.fn);
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [DB, HOOK],
    });
    expect(statements).toContainEqual(decrypt([KEY('aaaaaaaa'), KEY('bbbbbbbb')]));
  });

  it("lets the probe read its clusters' logins (the cluster's own, else the probe's) and decrypt them", () => {
    const { statements } = statementsOf({}, ({ stack }) => stack.probes?.probeFunction.fn);
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [DB, PROBE],
    });
    expect(statements).toContainEqual(decrypt([KEY('aaaaaaaa'), KEY('cccccccc')]));
  });

  it('lets runbook-steps read secrets named by clusterSecretNamePrefix (clusters applied by watch --stack), and says so in an output', () => {
    const { statements, template } = statementsOf(
      { clusterSecretNamePrefix: 'replica-sentinel/', clusterSecretKeyArns: KEY('dddddddd') },
      ({ stack }) => stack.runbooks.stepsFunction.fn,
    );
    expect(statements).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [
        {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:secretsmanager:${TEST_REGION}:`,
              { Ref: 'AWS::AccountId' },
              ':secret:replica-sentinel/*',
            ],
          ],
        },
      ],
    });
    expect(statements).toContainEqual(decrypt([KEY('dddddddd')]));
    template.hasOutput('ClusterSecretNamePrefix', { Value: 'replica-sentinel/' });
  });

  it('grants no secret by name without clusterSecretNamePrefix', () => {
    const { statements, template } = statementsOf({}, ({ stack }) => stack.runbooks.stepsFunction.fn);
    expect(JSON.stringify(statements)).not.toContain('replica-sentinel/');
    expect(template.findOutputs('ClusterSecretNamePrefix')).toEqual({});
  });

  it('accepts -c slackWebhookSecretKeyArn for the webhook secret of the config file', () => {
    const key = ALL_OPTIONS_CONTEXT.slackWebhookSecretKeyArn;
    const { statements } = statementsOf(
      { slackWebhookSecretKeyArn: key },
      ({ stack }) => stack.notifications.notifySlack?.fn,
    );
    expect(statements).toContainEqual(decrypt([key]));
  });

  it('refuses a KMS key field without its secret, naming the field', () => {
    const orphan = join(directory, 'orphan.yaml');
    writeFileSync(
      orphan,
      [
        'clusters:',
        '  - id: orders',
        '    engine: redis',
        '    fencing: trust-quorum',
        `    credentialsKmsKeyArn: ${KEY('aaaaaaaa')}`,
        '    nodes: [{ id: r1, url: "redis://10.0.1.1:6379" }, { id: r2, url: "redis://10.0.1.2:6379" }]',
      ].join('\n'),
    );
    expect(build({ config: orphan })).toThrow(
      /orphan.yaml:5:27: clusters\[0\].credentialsKmsKeyArn: is the KMS key of credentialsSecretArn, which is not given/,
    );
  });
});

describe('one network for the probe and runbook-steps', () => {
  const directory = mkdtempSync(join(tmpdir(), 'replica-sentinel-network-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const cluster = [
    'clusters:',
    '  - id: orders',
    '    engine: redis',
    '    fencing: trust-quorum',
    '    nodes: [{ id: r1, url: "redis://10.0.1.1:6379" }, { id: r2, url: "redis://10.0.1.2:6379" }]',
    'probe:',
    '  enabled: true',
  ];
  const write = (name: string, lines: string[]) => {
    const path = join(directory, name);
    writeFileSync(path, lines.join('\n'));
    return path;
  };
  const withNetwork = write('network.yaml', [
    ...cluster,
    'network:',
    '  vpcId: vpc-0123456789abcdef0',
    '  subnetIds: [subnet-0123456789abcdef0]',
    '  securityGroupIds: [sg-0123456789abcdef0]',
    '  vpcEndpoints: true',
    '  routeTableIds: [rtb-0123456789abcdef0]',
  ]);

  it('places runbook-steps in the VPC of the probe (the network section), and creates the endpoints they need', () => {
    const { stack } = build({ config: withNetwork })();
    const template = Template.fromStack(stack);
    const vpcConfig = (fn: Parameters<typeof logicalIdOfConstruct>[1]) =>
      resources(template)[logicalIdOfConstruct(stack, fn)]?.Properties?.VpcConfig;
    const probe = stack.probes?.probeFunction.fn;
    if (probe === undefined) throw new Error('no probe function');
    expect(vpcConfig(stack.runbooks.stepsFunction.fn)).toEqual({
      SubnetIds: ['subnet-0123456789abcdef0'],
      SecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    expect(vpcConfig(probe)).toEqual(vpcConfig(stack.runbooks.stepsFunction.fn));
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map(
      (r) => (r as { Properties: { ServiceName: unknown; VpcEndpointType?: string } }).Properties,
    );
    expect(services.map((p) => JSON.stringify(p.ServiceName)).sort()).toEqual(
      [
        '"com.amazonaws.eu-west-1.dynamodb"',
        '"com.amazonaws.eu-west-1.kinesis-streams"',
        '"com.amazonaws.eu-west-1.secretsmanager"',
        '"com.amazonaws.eu-west-1.sns"',
        '"com.amazonaws.eu-west-1.ssm"',
        '"com.amazonaws.eu-west-1.states"',
      ].sort(),
    );
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      RouteTableIds: ['rtb-0123456789abcdef0'],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [
        Match.objectLike({ FromPort: 443, ToPort: 443, SourceSecurityGroupId: 'sg-0123456789abcdef0' }),
      ],
    });
  });

  it('warns at synth when nodes have private addresses and no network is configured', () => {
    const printed: string[] = [];
    const warn = console.warn;
    console.warn = (message: unknown) => printed.push(String(message));
    try {
      build({ config: write('private.yaml', cluster) })();
    } finally {
      console.warn = warn;
    }
    expect(printed).toContainEqual(
      expect.stringContaining('orders/r1, orders/r2 have private addresses and no network is configured'),
    );
  });
});

describe('removalPolicy', () => {
  const policies = (context: Record<string, unknown>) => {
    const { stack } = build(context)();
    const all = Object.values(resources(Template.fromStack(stack)));
    return {
      stack,
      template: Template.fromStack(stack),
      deletion: new Set(all.map((r) => r.DeletionPolicy ?? 'Delete')),
      retained: all.filter((r) => r.DeletionPolicy === 'Retain').map((r) => r.Type),
    };
  };

  it('retains the table, the keys and the evidence log groups by default, with deletion protection', () => {
    const { retained, template } = policies({});
    expect(retained).toContain('AWS::DynamoDB::GlobalTable');
    expect(retained).toContain('AWS::KMS::Key');
    expect(retained).toContain('AWS::Logs::LogGroup');
    expect(retained).not.toContain('AWS::Kinesis::Stream');
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })],
    });
  });

  it('removalPolicy=destroy leaves nothing behind: every resource is deleted, the table unprotected', () => {
    const { deletion, template } = policies({ removalPolicy: 'destroy' });
    expect([...deletion]).toEqual(['Delete']);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  it('refuses any other value, naming the key', () => {
    expect(build({ removalPolicy: 'snapshot' })).toThrow(
      'context value removalPolicy must be retain (keep the table, keys and evidence logs when the stack is deleted) or destroy (a test stack); got "snapshot"',
    );
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
      '      fence: { type: ssm, documentName: FileFenceDocument, assumeRoleArn: "arn:aws:iam::123456789012:role/file-fence" }',
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

  it('lets runbook-steps pass the SSM hook roles of the file and of hookSsmRoleArns to SSM, and nothing else', () => {
    const contextRole = 'arn:aws:iam::123456789012:role/context-automation';
    const { stack, template } = buildWith({ hookSsmRoleArns: contextRole });
    const statements = statementsOfFunction(
      template,
      logicalIdOfConstruct(stack, stack.runbooks.stepsFunction.fn),
    );
    expect(statements.filter((s) => s.actions.includes('iam:PassRole'))).toEqual([
      {
        effect: 'Allow',
        actions: ['iam:PassRole'],
        resources: [contextRole, 'arn:aws:iam::123456789012:role/file-fence'],
        conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
      },
    ]);
  });

  it('grants no iam:PassRole without SSM hook roles', () => {
    const { stack } = build({})();
    const statements = statementsOfFunction(
      Template.fromStack(stack),
      logicalIdOfConstruct(stack, stack.runbooks.stepsFunction.fn),
    );
    expect(JSON.stringify(statements)).not.toContain('iam:PassRole');
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
    expect(printed.filter((line) => line.startsWith('note:'))).toEqual([]);
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
    expect(printed.filter((line) => line.startsWith('note:'))).toEqual([
      `note: context value slackWebhookSecretArn overrides the value in ${file}`,
    ]);
  });
});
