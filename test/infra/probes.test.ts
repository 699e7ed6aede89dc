import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/build-app';
import { PROBE_CONFIG_PATH } from '../../infra/constructs/probes';
import { VPC_ENI_ACTIONS } from '../../infra/constructs/vpc-placement';
import { REPO_ROOT } from '../../infra/paths';
import {
  arnOf,
  logicalIdOf,
  logicalIdOfConstruct,
  resources,
  statementsOfFunction,
  TEST_REGION,
  type TestApp,
  testApp,
  validationFindings,
} from './support';

const EXAMPLE = join(REPO_ROOT, 'examples', 'replica-sentinel.yaml');
const SECRET = (name: string) => `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:${name}`;

const directory = mkdtempSync(join(tmpdir(), 'replica-sentinel-probes-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A configuration file in the test's directory; returns its path. */
function configFile(name: string, lines: readonly string[]): string {
  const path = join(directory, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const REDIS_CLUSTER = [
  'clusters:',
  '  - id: cache',
  '    engine: redis',
  `    credentialsSecretArn: ${SECRET('cache-db-AbCdEf')}`,
  '    nodes:',
  '      - { id: r1, url: "redis://10.0.0.1:6379" }',
  '      - { id: r2, url: "redis://10.0.0.2:6379" }',
];

describe('the probe function from the example configuration (cdk deploy -c config=examples/replica-sentinel.yaml)', () => {
  let t: TestApp;
  let template: Template;
  let fnId: string;
  let synthError: unknown;

  beforeAll(() => {
    t = testApp({ nag: true, bundling: false, context: { config: EXAMPLE } });
    try {
      t.app.synth();
    } catch (error) {
      synthError = error;
    }
    template = Template.fromStack(t.stack);
    const probes = t.stack.probes;
    if (probes === undefined) throw new Error('the stack has no probe function');
    fnId = logicalIdOfConstruct(t.stack, probes.probeFunction.fn);
  });

  afterAll(() => t.cleanup());

  it('synthesizes with no unacknowledged cdk-nag finding', () => {
    expect(validationFindings(t.outdir)).toEqual([]);
    expect(synthError).toBeUndefined();
  });

  it("places runbook-steps in the probe's VPC (one network section) and creates the VPC endpoints", () => {
    const steps = logicalIdOfConstruct(t.stack, t.stack.runbooks.stepsFunction.fn);
    expect(resources(template)[steps]?.Properties?.VpcConfig).toEqual(
      resources(template)[fnId]?.Properties?.VpcConfig,
    );
    expect(Object.keys(template.findResources('AWS::EC2::VPCEndpoint'))).toHaveLength(6);
  });

  it('runs the function in the configured subnets with the configured security group', () => {
    expect(resources(template)[fnId]?.Properties).toMatchObject({
      VpcConfig: {
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      },
    });
  });

  it('ships the configuration file as is in a layer and tells the function where the file and the stream are', () => {
    const layerId = logicalIdOf(template, 'AWS::Lambda::LayerVersion');
    const heartbeats = logicalIdOfConstruct(t.stack, t.stack.ingest.heartbeatStream);
    expect(resources(template)[fnId]?.Properties).toMatchObject({
      Layers: [{ Ref: layerId }],
      Environment: {
        Variables: {
          CLUSTER_CONFIG_FILE: PROBE_CONFIG_PATH,
          HEARTBEAT_STREAM_ARN: arnOf(heartbeats),
          TABLE_NAME: { Ref: logicalIdOfConstruct(t.stack, t.stack.stateStore.table) },
        },
      },
    });
    // The staged layer asset holds the file byte for byte.
    const staged = readdirSync(t.outdir)
      .map((name) => join(t.outdir, name, 'replica-sentinel', 'clusters.yaml'))
      .filter((file) => existsSync(file));
    expect(staged.map((file) => readFileSync(file, 'utf8'))).toEqual([readFileSync(EXAMPLE, 'utf8')]);
  });

  it("invokes it every minute from an EventBridge rule, rounds following the clusters' heartbeatIntervalSeconds", () => {
    expect(t.stack.probes?.roundSeconds).toBe(5);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Description:
        'replica-sentinel: invokes the probe function every minute (rounds every 5 s; clusters probed every 5, 10 s, their heartbeatIntervalSeconds)',
      Targets: [{ Arn: arnOf(fnId), RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 } }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: arnOf(fnId),
      Principal: 'events.amazonaws.com',
      SourceArn: arnOf(logicalIdOf(template, 'AWS::Events::Rule')),
    });
  });

  it('grants exactly PutRecords on the stream, its key, the configured secrets and the clusters items, nothing else', () => {
    const ids = (construct: Parameters<typeof logicalIdOfConstruct>[1]) =>
      logicalIdOfConstruct(t.stack, construct);
    const logs = t.stack.probes?.probeFunction.logGroup;
    if (logs === undefined) throw new Error('no log group');
    expect(statementsOfFunction(template, fnId)).toEqual([
      {
        effect: 'Allow',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [arnOf(ids(logs))],
      },
      { effect: 'Allow', actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] },
      { effect: 'Allow', actions: [...VPC_ENI_ACTIONS], resources: ['*'] },
      {
        effect: 'Allow',
        actions: ['kinesis:PutRecords'],
        resources: [arnOf(ids(t.stack.ingest.heartbeatStream))],
      },
      { effect: 'Allow', actions: ['kms:GenerateDataKey'], resources: [arnOf(ids(t.stack.ingest.key))] },
      {
        effect: 'Allow',
        actions: ['dynamodb:UpdateItem'],
        resources: [arnOf(ids(t.stack.stateStore.table))],
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': ['CLUSTER#orders-pg', 'CLUSTER#cache-redis'],
          },
        },
      },
      {
        effect: 'Allow',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [arnOf(ids(t.stack.stateStore.key))],
      },
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [SECRET('orders-pg-db-AbCdEf'), SECRET('sentinel/probe-XyZ123')],
      },
    ]);
  });

  it("lets runbook-steps read the clusters' own secrets, and delivers notifications from the file", () => {
    const steps = logicalIdOfConstruct(t.stack, t.stack.runbooks.stepsFunction.fn);
    expect(statementsOfFunction(template, steps)).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [SECRET('orders-pg-db-AbCdEf')],
    });
    expect(t.stack.notifications.notifySlack).toBeDefined();
  });
});

describe('the probe function is opt-in', () => {
  const build = (context: Record<string, unknown>) =>
    createApp({ context: { region: TEST_REGION, 'aws:cdk:bundling-stacks': [], ...context }, nag: false });
  const configLayerCount = (stack: ReturnType<typeof build>['stack']) =>
    Object.keys(Template.fromStack(stack).findResources('AWS::Lambda::LayerVersion')).length;

  it('is not deployed without a config file, nor with a file without a probe section', () => {
    const none = build({});
    const noProbe = build({ config: configFile('no-probe.yaml', REDIS_CLUSTER) });
    expect(none.stack.probes).toBeUndefined();
    expect(noProbe.stack.probes).toBeUndefined();
    expect(configLayerCount(none.stack) + configLayerCount(noProbe.stack)).toBe(0);
  });

  it('is not deployed with enabled: false, while the rest of the file still applies', () => {
    const { stack } = build({
      config: configFile('disabled.yaml', [...REDIS_CLUSTER, 'probe:', '  enabled: false']),
    });
    expect(stack.probes).toBeUndefined();
    const template = Template.fromStack(stack);
    expect(
      statementsOfFunction(template, logicalIdOfConstruct(stack, stack.runbooks.stepsFunction.fn)),
    ).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [SECRET('cache-db-AbCdEf')],
    });
  });

  it('runs outside a VPC when the probe section has no network, every minute for an interval of N minutes', () => {
    const { stack } = build({
      config: configFile('minutes.yaml', [
        ...REDIS_CLUSTER,
        '    policy: { heartbeatIntervalSeconds: 120, heartbeatTimeoutSeconds: 600 }',
        'probe:',
        '  enabled: true',
      ]),
    });
    if (stack.probes === undefined) throw new Error('no probe function');
    const template = Template.fromStack(stack);
    expect(stack.probes.roundSeconds).toBe(60);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    const fn = logicalIdOfConstruct(stack, stack.probes.probeFunction.fn);
    expect(resources(template)[fn]?.Properties?.VpcConfig).toBeUndefined();
    expect(statementsOfFunction(template, fn)).toContainEqual({
      effect: 'Allow',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [SECRET('cache-db-AbCdEf')],
    });
  });
});

describe('a broken configuration file fails the synth', () => {
  const build = (path: string) => () =>
    createApp({ context: { region: TEST_REGION, 'aws:cdk:bundling-stacks': [], config: path }, nag: false });

  it('names the file, line, column and field of each problem', () => {
    const path = configFile('broken.yaml', [
      ...REDIS_CLUSTER,
      '    policy: { heartbeatIntervalSeconds: 7, heartbeatTimeoutSeconds: 60 }',
      'probe:',
      '  network:',
      '    vpcId: vpc-123',
      '    subnetIds: [subnet-0123456789abcdef0]',
      '    securityGroupIds: [sg-0123456789abcdef0]',
    ]);
    expect(build(path)).toThrow(
      `context value config: ${path} is not a valid configuration:\n` +
        `${path}:8:41: clusters[0].policy.heartbeatIntervalSeconds: heartbeatIntervalSeconds (7) cannot be honored by the probe function, which runs rounds inside one-minute invocations: use a whole divisor of a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or a whole number of minutes (60, 120, … 3600)\n` +
        `${path}:11:12: probe.network.vpcId: must be a VPC id (vpc-…, 8 or 17 hex digits)`,
    );
  });

  it('refuses a probed cluster that does not exist or has no built-in probe, and a secret of another region', () => {
    const path = configFile('unknown-cluster.yaml', [
      ...REDIS_CLUSTER,
      '  - id: ensemble',
      '    engine: etcd',
      '    mode: off',
      '    nodes: [{ id: e1, url: "http://10.0.0.1:2379" }, { id: e2, url: "http://10.0.0.2:2379" }]',
      'probe:',
      '  clusters: [cache, ensemble, orders]',
      '  credentialsSecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-AbCdEf',
    ]);
    expect(build(path)).toThrow(
      new RegExp(
        [
          ':13:21: probe.clusters\\[1\\]: cluster "ensemble" is etcd, which has no built-in probe',
          ':13:31: probe.clusters\\[2\\]: no cluster "orders" in clusters',
          ':14:25: probe.credentialsSecretArn: is in region us-east-1; the stack is in eu-west-1',
        ].join('[^\\n]*\\n[^\\n]*'),
      ),
    );
  });

  it('says so when the file cannot be read', () => {
    expect(build(join(directory, 'missing.yaml'))).toThrow(
      /context value config: cannot read .*missing\.yaml \(ENOENT\)/,
    );
  });
});
