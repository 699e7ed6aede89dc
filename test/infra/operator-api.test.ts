import type { Template } from 'aws-cdk-lib/assertions';
import { OPERATOR_ROUTES } from '../../functions/core/operator-routes';
import {
  ALL_OPTIONS_CONTEXT,
  arnOf,
  type CfnResourceJson,
  logicalIdOfConstruct,
  resources,
  type Statement,
  statementsOfFunction,
  type TestApp,
  useDefaultAndFullApps,
} from './support';

// The operator API (infra/constructs/operator-api.ts): two syntheses, bundling skipped: the default app and
// the app with every option (a Slack signing secret among them).

interface Ids {
  readonly fn: string;
  readonly api: string;
  readonly accessLogs: string;
  readonly table: string;
  readonly failover: string;
  readonly recovery: string;
  readonly switchover: string;
}

function idsOf(t: TestApp): Ids {
  const id = (c: Parameters<typeof logicalIdOfConstruct>[1]) => logicalIdOfConstruct(t.stack, c);
  const { operatorApi, runbooks, stateStore } = t.stack;
  return {
    fn: id(operatorApi.operatorFunction.fn),
    api: id(operatorApi.api),
    accessLogs: id(operatorApi.accessLogs),
    table: id(stateStore.table),
    failover: id(runbooks.failover),
    recovery: id(runbooks.recovery),
    switchover: id(runbooks.switchover),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const allowed = (statements: Statement[]) => statements.filter((s) => s.effect === 'Allow');

const { base, full } = useDefaultAndFullApps(idsOf);

describe('the operator function', () => {
  it('may use the table, answer task tokens and see / stop executions of the three runbooks only', () => {
    const statements = allowed(statementsOfFunction(base.template, base.ids.fn));
    const states = statements.filter((s) => s.actions.some((a) => a.startsWith('states:')));
    expect(states.slice(0, 1)).toEqual([
      {
        effect: 'Allow',
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [{ Ref: base.ids.failover }, { Ref: base.ids.recovery }, { Ref: base.ids.switchover }],
      },
    ]);
    expect(states.slice(1).map((s) => s.actions)).toEqual([
      ['states:DescribeExecution', 'states:StopExecution'],
      ['states:StartExecution'],
      ['states:StartExecution'],
      ['states:StartExecution'],
    ]);
    expect(JSON.stringify(states[1]?.resources)).toMatch(
      /:execution:ReplicaSentinel-primary-failover:\*".*:execution:ReplicaSentinel-replica-recovery:\*".*:execution:ReplicaSentinel-primary-switchover:\*"/,
    );
    // It starts switchovers, manual failovers, re-runs (recover) of the three runbooks and
    // replica recoveries (an operator's rejoin or rebuild), nothing else.
    expect(states.slice(2).map((s) => s.resources)).toEqual([
      [{ Ref: base.ids.switchover }],
      [{ Ref: base.ids.failover }],
      [{ Ref: base.ids.recovery }],
    ]);
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')))).toEqual([
      {
        effect: 'Allow',
        actions: expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
        ]),
        resources: [arnOf(base.ids.table)],
      },
    ]);
    expect(statements.flatMap((s) => s.actions)).not.toContain('dynamodb:DeleteItem');
    expect(statements.flatMap((s) => s.actions)).not.toContain('secretsmanager:GetSecretValue');
  });

  it('gets the Slack signing secret (SLACK_SIGNING_SECRET_ARN and read access) only when configured', () => {
    expect(resources(base.template)[base.ids.fn]?.Properties).not.toMatchObject({
      Environment: { Variables: { SLACK_SIGNING_SECRET_ARN: expect.anything() } },
    });
    expect(resources(full.template)[full.ids.fn]?.Properties).toMatchObject({
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: full.ids.table },
          SLACK_SIGNING_SECRET_ARN: ALL_OPTIONS_CONTEXT.slackSigningSecretArn,
        },
      },
    });
    expect(
      allowed(statementsOfFunction(full.template, full.ids.fn)).filter((s) =>
        s.actions.includes('secretsmanager:GetSecretValue'),
      ),
    ).toEqual([
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [ALL_OPTIONS_CONTEXT.slackSigningSecretArn],
      },
    ]);
  });
});

describe('the operator API', () => {
  const ofType = (t: Template, type: string) =>
    Object.entries(resources(t)).filter(([, r]) => r.Type === type) as Array<[string, CfnResourceJson]>;
  const methods = (t: Template) => ofType(t, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties ?? {});
  const pathOf = (t: Template, resourceId: unknown): string => {
    const ref = resourceId as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    if (ref['Fn::GetAtt'] !== undefined) return '';
    const resource = resources(t)[String(ref.Ref)]?.Properties;
    return `${pathOf(t, resource?.ParentId)}/${String(resource?.PathPart)}`;
  };

  it('is a Regional REST API', () => {
    expect(resources(base.template)[base.ids.api]?.Properties).toMatchObject({
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  it('has one POST per route of the route table, IAM-authorized, a Lambda proxy of the operator function', () => {
    const iam = methods(base.template);
    expect(iam.map((m) => pathOf(base.template, m.ResourceId)).sort()).toEqual(
      Object.values(OPERATOR_ROUTES)
        .map((r) => r.path)
        .sort(),
    );
    for (const method of iam) {
      const path = pathOf(base.template, method.ResourceId);
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect([path, method]).toEqual([
        path,
        expect.objectContaining({
          HttpMethod: 'POST',
          AuthorizationType: 'AWS_IAM',
          RequestParameters: Object.fromEntries(params.map((p) => [`method.request.path.${p}`, true])),
          RequestValidatorId: { Ref: expect.any(String) },
          Integration: expect.objectContaining({
            Type: 'AWS_PROXY',
            IntegrationHttpMethod: 'POST',
            Uri: { 'Fn::Join': ['', expect.arrayContaining([arnOf(base.ids.fn)])] },
          }),
        }),
      ]);
    }
  });

  it('adds the unauthenticated POST /slack/actions only with a Slack signing secret', () => {
    const slack = methods(full.template).filter(
      (m) => pathOf(full.template, m.ResourceId) === '/slack/actions',
    );
    expect(slack).toEqual([
      expect.objectContaining({
        HttpMethod: 'POST',
        AuthorizationType: 'NONE',
        Integration: expect.objectContaining({ Type: 'AWS_PROXY' }),
      }),
    ]);
    expect(methods(full.template).filter((m) => m.AuthorizationType !== 'NONE')).toEqual(
      Object.keys(OPERATOR_ROUTES).map(() => expect.objectContaining({ AuthorizationType: 'AWS_IAM' })),
    );
    expect(methods(base.template).map((m) => pathOf(base.template, m.ResourceId))).not.toContain(
      '/slack/actions',
    );
  });

  it('validates request parameters and bodies', () => {
    expect(ofType(base.template, 'AWS::ApiGateway::RequestValidator').map(([, r]) => r.Properties)).toEqual([
      { RestApiId: { Ref: base.ids.api }, ValidateRequestParameters: true, ValidateRequestBody: true },
    ]);
  });

  it('logs access (JSON, KMS-encrypted group) and errors, traces with X-Ray, throttles, and logs no bodies', () => {
    const [[, stage]] = ofType(base.template, 'AWS::ApiGateway::Stage') as [[string, CfnResourceJson]];
    expect(stage.Properties).toMatchObject({
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: arnOf(base.ids.accessLogs),
        Format: expect.stringContaining('"requestId"'),
      },
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        },
      ],
    });
    expect(resources(base.template)[base.ids.accessLogs]?.Properties).toMatchObject({
      KmsKeyId: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
    });
  });

  it('lets API Gateway invoke the operator function for its own methods only (no test-invoke)', () => {
    const permissions = ofType(full.template, 'AWS::Lambda::Permission')
      .map(([, r]) => r.Properties ?? {})
      .filter((p) => same(p.FunctionName, arnOf(full.ids.fn)));
    expect(permissions).toHaveLength(Object.keys(OPERATOR_ROUTES).length + 1);
    for (const permission of permissions) {
      expect(permission.Principal).toBe('apigateway.amazonaws.com');
      expect(JSON.stringify(permission.SourceArn)).not.toContain('test-invoke-stage');
    }
  });
});

describe('outputs', () => {
  it('exports the operator API URL', () => {
    const outputs = base.template.findOutputs('OperatorApiUrl');
    expect(JSON.stringify(outputs.OperatorApiUrl?.Value)).toContain(base.ids.api);
  });
});
