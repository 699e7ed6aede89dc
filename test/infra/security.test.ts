import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { ALL_OPTIONS_CONTEXT, type CfnResourceJson, resources, TEST_REGION, testApp } from './support';

/**
 * Actions allowed on `Resource: "*"`, each with why: AWS offers no resource-level permission for them
 * (Service Authorization Reference), so naming a resource is impossible, not merely inconvenient.
 */
const ALLOWED_ON_STAR: Readonly<Record<string, string>> = {
  'xray:PutTraceSegments':
    'X-Ray trace upload (Lambda and state machine tracing) has no resource-level permissions',
  'xray:PutTelemetryRecords': 'X-Ray telemetry has no resource-level permissions',
  'xray:GetSamplingRules': 'X-Ray sampling rules (state machine tracing) have no resource-level permissions',
  'xray:GetSamplingTargets': 'X-Ray sampling targets have no resource-level permissions',
  'logs:CreateLogDelivery': 'Step Functions execution logging (vended log delivery) needs these on "*"',
  'logs:GetLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:UpdateLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:DeleteLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:ListLogDeliveries': 'vended log delivery: no resource-level permissions',
  'logs:PutResourcePolicy': 'vended log delivery writes the log group resource policy; AWS documents "*"',
  'logs:DescribeResourcePolicies': 'vended log delivery: no resource-level permissions',
  'logs:DescribeLogGroups': 'vended log delivery lists log groups: no resource-level permissions',
  'ec2:CreateNetworkInterface':
    'Lambda in a VPC (runbook-steps with a network): ENI actions are on "*" by design',
  'ec2:DescribeNetworkInterfaces': 'Describe* actions have no resource-level permissions',
  'ec2:DescribeSubnets': 'Describe* actions have no resource-level permissions',
  'ec2:DeleteNetworkInterface':
    'Lambda in a VPC: ENIs are created by the service, their ids are unknown at deploy',
  'ec2:AssignPrivateIpAddresses': 'Lambda in a VPC: ENIs are created by the service, ids unknown at deploy',
  'ec2:UnassignPrivateIpAddresses': 'Lambda in a VPC: ENIs are created by the service, ids unknown at deploy',
};

/** API routes without IAM authorization, each with what authenticates it instead. */
const UNAUTHENTICATED_ROUTES: Readonly<Record<string, string>> = {
  '/slack/actions':
    'Slack cannot sign with SigV4; the approval function verifies the Slack request signature (HMAC with the signing secret kept in Secrets Manager) and rejects anything else with 401',
};

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Every statement of every IAM policy in the template: inline role policies, policies, managed policies. */
function iamStatements(
  all: Record<string, CfnResourceJson>,
): Array<{ id: string; statement: PolicyStatementJson }> {
  return Object.entries(all).flatMap(([id, r]) => {
    const documents: Array<{ Statement: PolicyStatementJson[] }> = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      documents.push(r.Properties?.PolicyDocument as { Statement: PolicyStatementJson[] });
    if (r.Type === 'AWS::IAM::Role')
      for (const p of asArray(
        r.Properties?.Policies as Array<{ PolicyDocument: { Statement: PolicyStatementJson[] } }>,
      ))
        documents.push(p.PolicyDocument);
    return documents.flatMap((d) => d.Statement.map((statement) => ({ id, statement })));
  });
}

const ofType = (all: Record<string, CfnResourceJson>, type: string) =>
  Object.entries(all).filter(([, r]) => r.Type === type);

/** The logical id behind `{ 'Fn::GetAtt': [id, 'Arn'] }` or `{ Ref: id }`. */
const referenced = (value: unknown): string | undefined => {
  const v = value as { 'Fn::GetAtt'?: [string, string]; Ref?: string } | undefined;
  return v?.['Fn::GetAtt']?.[0] ?? v?.Ref;
};

const isTlsOnlyDeny = (s: PolicyStatementJson) =>
  s.Effect === 'Deny' && String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false';

describe.each([
  ['the default stack', {}],
  ['the stack with every option', ALL_OPTIONS_CONTEXT],
])('security of %s', (_name, context) => {
  let all: Record<string, CfnResourceJson>;
  let cleanup: () => void;

  beforeAll(() => {
    const app = testApp({ bundling: false, context });
    cleanup = app.cleanup;
    all = resources(Template.fromStack(app.stack));
  });
  afterAll(() => cleanup());

  it('grants "*" resources only to actions on the written allow-list, each with its reason', () => {
    const offenders = iamStatements(all)
      .filter(({ statement }) => statement.Effect === 'Allow' && asArray(statement.Resource).includes('*'))
      .flatMap(({ id, statement }) =>
        asArray(statement.Action)
          .filter((action) => !(action in ALLOWED_ON_STAR))
          .map((action) => `${id}: ${action} on "*"`),
      );
    expect(offenders).toEqual([]);
  });

  it('grants no wildcard action ("*" or "service:*") in any Allow statement', () => {
    const wildcards = iamStatements(all)
      .filter(({ statement }) => statement.Effect === 'Allow')
      .flatMap(({ id, statement }) =>
        asArray(statement.Action)
          .filter((action) => action === '*' || action.endsWith(':*'))
          .map((action) => `${id}: ${action}`),
      );
    expect(wildcards).toEqual([]);
  });

  it('encrypts the table, topics, queues and streams with customer-managed KMS keys', () => {
    const keys = new Set(ofType(all, 'AWS::KMS::Key').map(([id]) => id));
    const missing: string[] = [];
    for (const [id, r] of ofType(all, 'AWS::DynamoDB::GlobalTable')) {
      const replicas = r.Properties?.Replicas as Array<{ SSESpecification?: { KMSMasterKeyId?: unknown } }>;
      for (const replica of replicas)
        if (!keys.has(referenced(replica.SSESpecification?.KMSMasterKeyId) ?? '')) missing.push(id);
    }
    for (const [id, r] of [...ofType(all, 'AWS::SNS::Topic'), ...ofType(all, 'AWS::SQS::Queue')])
      if (!keys.has(referenced(r.Properties?.KmsMasterKeyId) ?? '')) missing.push(id);
    for (const [id, r] of ofType(all, 'AWS::Kinesis::Stream')) {
      const encryption = r.Properties?.StreamEncryption as { EncryptionType?: string; KeyId?: unknown };
      if (encryption?.EncryptionType !== 'KMS' || !keys.has(referenced(encryption.KeyId) ?? ''))
        missing.push(id);
    }
    expect(missing).toEqual([]);
    // The heartbeats stream, and change-events only with -c changeStreams=true.
    expect(ofType(all, 'AWS::Kinesis::Stream')).toHaveLength('changeStreams' in context ? 2 : 1);
  });

  it('encrypts every log group with a key whose policy lets CloudWatch Logs of the region use it', () => {
    const groups = ofType(all, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const [id, group] of groups) {
      const keyId = referenced(group.Properties?.KmsKeyId);
      const key = keyId === undefined ? undefined : all[keyId];
      expect({ id, key: key?.Type }).toEqual({ id, key: 'AWS::KMS::Key' });
      const statements =
        (key?.Properties?.KeyPolicy as { Statement: PolicyStatementJson[] } | undefined)?.Statement ?? [];
      const forLogs = statements.find(
        (s) =>
          JSON.stringify(s.Principal) === JSON.stringify({ Service: `logs.${TEST_REGION}.amazonaws.com` }),
      );
      expect({ id, actions: asArray(forLogs?.Action) }).toEqual({
        id,
        actions: expect.arrayContaining(['kms:Encrypt*', 'kms:Decrypt*', 'kms:GenerateDataKey*']),
      });
    }
  });

  it('denies every request to a queue or topic that does not use TLS', () => {
    const protectedIds = new Set<string>();
    for (const [, policy] of [
      ...ofType(all, 'AWS::SQS::QueuePolicy'),
      ...ofType(all, 'AWS::SNS::TopicPolicy'),
    ]) {
      const document = policy.Properties?.PolicyDocument as { Statement: PolicyStatementJson[] } | undefined;
      const statements = document?.Statement ?? [];
      if (!statements.some(isTlsOnlyDeny)) continue;
      for (const target of asArray((policy.Properties?.Queues ?? policy.Properties?.Topics) as unknown[]))
        protectedIds.add(referenced(target) ?? '');
    }
    const unprotected = [...ofType(all, 'AWS::SQS::Queue'), ...ofType(all, 'AWS::SNS::Topic')]
      .map(([id]) => id)
      .filter((id) => !protectedIds.has(id));
    expect(unprotected).toEqual([]);
  });

  it('accepts heartbeats only from IAM principals: no stream policy, no function URL, no public invoke', () => {
    expect(ofType(all, 'AWS::Kinesis::ResourcePolicy')).toEqual([]);
    expect(ofType(all, 'AWS::Lambda::Url')).toEqual([]);
    const principals = ofType(all, 'AWS::Lambda::Permission').map(([, r]) => r.Properties?.Principal);
    expect(principals).not.toContain('*');
  });

  it('authorizes every operator API route with AWS_IAM, except the allow-listed Slack route', () => {
    const paths = new Map(
      ofType(all, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, String(r.Properties?.PathPart)]),
    );
    const parents = new Map(
      ofType(all, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, referenced(r.Properties?.ParentId)]),
    );
    const pathOf = (id: string | undefined): string =>
      id === undefined || !paths.has(id) ? '' : `${pathOf(parents.get(id))}/${paths.get(id)}`;
    const open = ofType(all, 'AWS::ApiGateway::Method')
      .filter(
        ([, m]) => m.Properties?.HttpMethod !== 'OPTIONS' && m.Properties?.AuthorizationType !== 'AWS_IAM',
      )
      .map(([, m]) => pathOf(referenced(m.Properties?.ResourceId)))
      .filter((path) => !(path in UNAUTHENTICATED_ROUTES));
    expect(open).toEqual([]);
    expect(ofType(all, 'AWS::ApiGateway::Method').length).toBeGreaterThan(0);
  });

  it('keeps secrets out of function configuration: only Secrets Manager ARNs', () => {
    for (const [id, fn] of ofType(all, 'AWS::Lambda::Function')) {
      const variables =
        (fn.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables ?? {};
      for (const [name, value] of Object.entries(variables)) {
        if (/SECRET|PASSWORD|TOKEN|WEBHOOK/i.test(name)) {
          expect({ id, name, value }).toEqual({
            id,
            name,
            value: expect.stringMatching(/^arn:aws:secretsmanager:/),
          });
        }
        expect({ id, name, value: JSON.stringify(value) }).not.toEqual({
          id,
          name,
          value: expect.stringMatching(/hooks\.slack\.com|:\/\/[^/\s:@]+:[^/\s@]+@|password=/i),
        });
      }
    }
  });
});
