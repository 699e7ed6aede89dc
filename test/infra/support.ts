import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { type App, CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VALIDATION_REPORT_FILE } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { createApp } from '../../infra/build-app';
import type { ReplicaSentinelStack } from '../../infra/stack';
import { standIn } from '../support/stand-in';

/** Region the test apps synthesize for (TableV2 with a customer-managed key needs a concrete one). */
export const TEST_REGION = 'eu-west-1';

export interface TestApp {
  readonly app: App;
  readonly stack: ReplicaSentinelStack;
  /** Cloud assembly directory of this app (a fresh temporary directory). */
  readonly outdir: string;
  /** Removes {@link outdir}. */
  cleanup(): void;
}

export interface TestAppOptions {
  /** Register cdk-nag (as infra/app.ts does). @default false */
  readonly nag?: boolean;
  /** Run esbuild for the functions; off, the assets are placeholders (faster). @default true */
  readonly bundling?: boolean;
  /** Extra context values (`-c key=value` of the CDK CLI), e.g. the Slack options. @default none */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** Every optional context value of infra/build-app.ts, set to valid values (the "all options" app). */
export const ALL_OPTIONS_CONTEXT = {
  sweepIntervalSeconds: '5',
  changeStreams: 'true',
  streamShards: '2',
  tableCapacity: 'provisioned:500',
  chatbotSlackWorkspaceId: 'T0123ABCDE',
  chatbotSlackChannelId: 'C0456FGHIJ',
  slackWebhookSecretArn: `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:replica-sentinel/slack-webhook-AbC123`,
  slackWebhookSecretKeyArn: `arn:aws:kms:${TEST_REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  hookFunctionArns: `arn:aws:lambda:${TEST_REGION}:123456789012:function:fence-hook,arn:aws:lambda:${TEST_REGION}:123456789012:function:promote-hook:live`,
  hookSsmDocuments: 'RestartPostgresReplication,AWS-RestartEC2Instance',
  hookSsmRoleArns: 'arn:aws:iam::123456789012:role/replica-sentinel-automation',
  databaseSecretArn: `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:replica-sentinel/database-XyZ789`,
  runbookVpcId: 'vpc-0123456789abcdef0',
  runbookSubnetIds: 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
  runbookSecurityGroupId: 'sg-0123456789abcdef0',
  slackSigningSecretArn: `arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:replica-sentinel/slack-signing-QrS456`,
  slackAllowedUserIds: 'U012ABCDEF,W0345GHIJK',
} as const;

/** What Step Functions needs on "*" to deliver execution logs (CloudWatch Logs vended logs). */
export const LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];

/** The real app (infra/build-app.ts) with its own temporary outdir; call `cleanup()` in `afterAll`. */
export function testApp(options: TestAppOptions = {}): TestApp {
  const outdir = mkdtempSync(join(tmpdir(), 'replica-sentinel-infra-'));
  const context: Record<string, unknown> = { region: TEST_REGION, ...options.context };
  if (options.bundling === false) context['aws:cdk:bundling-stacks'] = [];
  const { app, stack } = createApp({ outdir, context, nag: options.nag ?? false });
  return { app, stack, outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** A test app synthesized for a file: its stack, its template and the logical ids the file reads. */
export interface SynthesizedApp<I> {
  readonly app: TestApp;
  readonly stack: ReplicaSentinelStack;
  readonly template: Template;
  readonly ids: I;
}

/**
 * For a test file: the default app (`base`) and the app with every option ({@link ALL_OPTIONS_CONTEXT},
 * `full`), each synthesized once in `beforeAll` with bundling skipped (the template is what counts), with
 * its template and the logical ids `idsOf` reads; both removed in `afterAll`. Read them in tests.
 */
export function useDefaultAndFullApps<I = undefined>(
  idsOf?: (t: TestApp) => I,
): { readonly base: SynthesizedApp<I>; readonly full: SynthesizedApp<I> } {
  const synthesize = (options: TestAppOptions) => {
    const app = testApp(options);
    const template = Template.fromStack(app.stack);
    return { app, stack: app.stack, template, ids: idsOf?.(app) as I };
  };
  let base: SynthesizedApp<I> | undefined;
  let full: SynthesizedApp<I> | undefined;
  beforeAll(() => {
    base = synthesize({ bundling: false });
    full = synthesize({ bundling: false, context: ALL_OPTIONS_CONTEXT });
  });
  afterAll(() => {
    base?.app.cleanup();
    full?.app.cleanup();
  });
  const later = (get: () => SynthesizedApp<I> | undefined): SynthesizedApp<I> =>
    standIn(() => {
      const value = get();
      if (value === undefined) throw new Error('the test apps are synthesized in beforeAll');
      return value;
    }, ['app', 'stack', 'template', 'ids']);
  return { base: later(() => base), full: later(() => full) };
}

/** Bundled entry files (`asset.<hash>/index.mjs`) in a synthesized cloud assembly. */
export function bundledEntries(outdir: string): string[] {
  return readdirSync(outdir)
    .filter((name) => name.startsWith('asset.'))
    .map((name) => join(outdir, name, 'index.mjs'))
    .filter((file) => existsSync(file));
}

/** One unacknowledged violation in CDK's validation report. */
export interface Finding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly constructPaths: readonly string[];
}

interface ValidationReportJson {
  readonly pluginReports: ReadonlyArray<{
    readonly pluginName: string;
    readonly violations: ReadonlyArray<{
      readonly ruleName: string;
      readonly severity: string;
      readonly violatingConstructs: ReadonlyArray<{ readonly constructPath: string }>;
    }>;
  }>;
}

/**
 * Every violation, of any severity, in the validation report CDK wrote while synthesizing into
 * `outdir`. cdk-nag 3 leaves acknowledged findings out, so what is here is unacknowledged. Warnings
 * do not fail a synth; reading the report is how the tests catch them.
 */
export function validationFindings(outdir: string): Finding[] {
  const file = join(outdir, VALIDATION_REPORT_FILE);
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: synthesize the app (with validation plugins) first`);
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationReportJson;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.map((violation) => ({
      plugin: plugin.pluginName,
      rule: violation.ruleName,
      severity: violation.severity,
      constructPaths: violation.violatingConstructs.map((c) => c.constructPath),
    })),
  );
}

/** A CloudFormation resource as the assertions see it. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** An IAM policy statement, normalized: Action and Resource always arrays; Condition only when set. */
export interface Statement {
  readonly effect: string;
  readonly actions: readonly string[];
  readonly resources: readonly unknown[];
  readonly conditions?: unknown;
}

export function resources(template: Template): Record<string, CfnResourceJson> {
  return (template.toJSON() as { Resources: Record<string, CfnResourceJson> }).Resources;
}

/** The logical id of the only resource of `type` whose properties satisfy `match`. */
export function logicalIdOf(
  template: Template,
  type: string,
  match: (properties: Record<string, unknown>) => boolean = () => true,
): string {
  const ids = Object.entries(resources(template))
    .filter(([, r]) => r.Type === type && match(r.Properties ?? {}))
    .map(([id]) => id);
  if (ids.length !== 1)
    throw new Error(`expected one ${type} that matches, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0] as string;
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** All Allow/Deny statements of the IAM policies attached to the role that the function runs as. */
export function statementsOfFunction(template: Template, functionLogicalId: string): Statement[] {
  const fn = resources(template)[functionLogicalId];
  const roleArn = fn?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const roleId = roleArn?.['Fn::GetAtt']?.[0];
  if (roleId === undefined) throw new Error(`${functionLogicalId} has no role of this stack`);
  return statementsOfRole(template, roleId);
}

/**
 * All Allow/Deny statements of the IAM policies (AWS::IAM::Policy) attached to a role. Inline and
 * managed policies of the role itself are checked separately (the house roles have none).
 */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  return Object.values(resources(template))
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) =>
      asArray(r.Properties?.Roles).some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId })),
    )
    .flatMap((r) => {
      const document = r.Properties?.PolicyDocument as { Statement: Array<Record<string, unknown>> };
      return document.Statement.map((s) => ({
        effect: String(s.Effect),
        actions: asArray(s.Action).map(String),
        resources: asArray(s.Resource),
        conditions: s.Condition,
      }));
    });
}

/** `{ 'Fn::GetAtt': [id, 'Arn'] }`, as a resource's ARN appears in the template. */
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** Logical id of the CloudFormation resource behind an L2 construct (its `defaultChild`). */
export function logicalIdOfConstruct(stack: Stack, construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (child === undefined || !CfnElement.isCfnElement(child)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource as its default child`);
  }
  return stack.getLogicalId(child);
}
