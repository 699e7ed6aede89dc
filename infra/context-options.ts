/**
 * The stack options read from the context values (`-c key=value`, or cdk.json) that infra/build-app.ts
 * documents: each one validated, and the network of the probe and runbook-steps.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { ROLE_ARN_PATTERN } from '../functions/core/config/schema';
import type { StreamCapacity } from './constructs/ingest';
import type { TableCapacity } from './constructs/state-store';
import { booleanFrom, listOf, matching } from './context-values';
import type { ReplicaSentinelStackProps } from './stack';

/** The optional stack props configured through context values (see `createApp` in infra/build-app.ts). */
export type ContextOptions = Pick<
  ReplicaSentinelStackProps,
  | 'sweepIntervalSeconds'
  | 'changeStreams'
  | 'streamCapacity'
  | 'tableCapacity'
  | 'chatbotSlack'
  | 'slackWebhookSecretArn'
  | 'slackWebhookSecretKeyArn'
  | 'hookFunctionArns'
  | 'hookSsmDocuments'
  | 'hookSsmRoleArns'
  | 'databaseSecretArn'
  | 'network'
  | 'slackSigningSecretArn'
  | 'slackAllowedUserIds'
  | 'probes'
  | 'clusterSecrets'
  | 'clusterSecretNamePrefix'
  | 'clusterSecretKeyArns'
  | 'databaseSecretKeyArn'
  | 'slackSigningSecretKeyArn'
  | 'removalPolicy'
>;

/** The stack options of the context values, each validated (the list: `createApp` in infra/build-app.ts). */
export function optionsFrom(context: (key: string) => unknown, region: string): ContextOptions {
  const sweepIntervalSeconds = sweepIntervalFrom(context('sweepIntervalSeconds'));
  const changeStreams = booleanFrom('changeStreams', context('changeStreams'));
  const streamCapacity = streamCapacityFrom(context('streamShards'));
  const tableCapacity = tableCapacityFrom(context('tableCapacity'));
  const workspaceId = matching(
    'chatbotSlackWorkspaceId',
    context('chatbotSlackWorkspaceId'),
    /^T[A-Z0-9]{8,20}$/,
    'a Slack workspace (team) id as the AWS Chatbot console shows it: T followed by 8 to 20 upper-case letters or digits',
  );
  const channelId = matching(
    'chatbotSlackChannelId',
    context('chatbotSlackChannelId'),
    /^[CG][A-Z0-9]{8,20}$/,
    'a Slack channel id (the last part of the channel link): C or G followed by 8 to 20 upper-case letters or digits',
  );
  if ((workspaceId === undefined) !== (channelId === undefined)) {
    const missing = workspaceId === undefined ? 'chatbotSlackWorkspaceId' : 'chatbotSlackChannelId';
    throw new Error(
      `context value ${missing} is missing: an AWS Chatbot Slack channel needs both chatbotSlackWorkspaceId and chatbotSlackChannelId`,
    );
  }
  const slackWebhookSecretArn = secretArnFrom('slackWebhookSecretArn', context, region);
  const kmsKey = new RegExp(`^arn:aws[a-z-]*:kms:${region}:\\d{12}:key/(mrk-)?[0-9a-f-]{32,36}$`);
  const keyArn = (key: string) =>
    matching(
      key,
      context(key),
      kmsKey,
      `the ARN of a KMS key in the stack's region ${region} (arn:aws:kms:<region>:<account>:key/<key id>)`,
    );
  const slackWebhookSecretKeyArn = keyArn('slackWebhookSecretKeyArn');
  const databaseSecretKeyArn = keyArn('databaseSecretKeyArn');
  const slackSigningSecretKeyArn = keyArn('slackSigningSecretKeyArn');
  const clusterSecretNamePrefix = clusterSecretNamePrefixFrom(context('clusterSecretNamePrefix'));
  const clusterSecretKeyArns = listOf(
    'clusterSecretKeyArns',
    context('clusterSecretKeyArns'),
    kmsKey,
    `a comma-separated list of KMS key ARNs in the stack's region ${region}`,
  );
  const hookFunctionArns = listOf(
    'hookFunctionArns',
    context('hookFunctionArns'),
    new RegExp(
      `^arn:aws[a-z-]*:lambda:${region}:\\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\\$LATEST|[A-Za-z0-9_-]{1,128}))?$`,
    ),
    `a comma-separated list of Lambda function ARNs in the stack's region ${region} ` +
      '(arn:aws:lambda:<region>:<account>:function:<name>, optionally :<version or alias>)',
  );
  const hookSsmDocuments = listOf(
    'hookSsmDocuments',
    context('hookSsmDocuments'),
    /^[A-Za-z0-9_.-]{3,128}$/,
    'a comma-separated list of SSM Automation document names (3 to 128 letters, digits, _ . or -; a name, not an ARN)',
  );
  const hookSsmRoleArns = listOf(
    'hookSsmRoleArns',
    context('hookSsmRoleArns'),
    ROLE_ARN_PATTERN,
    'a comma-separated list of IAM role ARNs (arn:aws:iam::<account>:role/<name>) that SSM hooks run as',
  );
  const databaseSecretArn = secretArnFrom('databaseSecretArn', context, region);
  const network = networkFrom(context);
  const slackSigningSecretArn = secretArnFrom('slackSigningSecretArn', context, region);
  const removalPolicy = removalPolicyFrom(context('removalPolicy'));
  const slackAllowedUserIds = listOf(
    'slackAllowedUserIds',
    context('slackAllowedUserIds'),
    /^[UW][A-Z0-9]{6,20}$/,
    'a comma-separated list of Slack user ids (U or W followed by upper-case letters or digits)',
  );
  return {
    sweepIntervalSeconds,
    changeStreams,
    streamCapacity,
    tableCapacity,
    ...(workspaceId === undefined || channelId === undefined
      ? {}
      : { chatbotSlack: { workspaceId, channelId } }),
    slackWebhookSecretArn,
    slackWebhookSecretKeyArn,
    hookFunctionArns,
    hookSsmDocuments,
    hookSsmRoleArns,
    databaseSecretArn,
    network,
    slackSigningSecretArn,
    removalPolicy,
    databaseSecretKeyArn,
    slackSigningSecretKeyArn,
    clusterSecretNamePrefix,
    clusterSecretKeyArns,
    slackAllowedUserIds,
  };
}

function clusterSecretNamePrefixFrom(value: unknown): string | undefined {
  return matching(
    'clusterSecretNamePrefix',
    value,
    /^[A-Za-z0-9/_+=.@-]{3,256}\/$/,
    'a secret name prefix ending in / (3 to 256 letters, digits or /_+=.@-)',
  );
}

function removalPolicyFrom(value: unknown): RemovalPolicy | undefined {
  const name = matching(
    'removalPolicy',
    value,
    /^(retain|destroy)$/,
    'retain (keep the table, keys and evidence logs when the stack is deleted) or destroy (a test stack)',
  );
  if (name === undefined) return undefined;
  return name === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}

/** A complete Secrets Manager secret ARN in `region` under context `key`, or undefined when absent. */
function secretArnFrom(key: string, context: (key: string) => unknown, region: string): string | undefined {
  return matching(
    key,
    context(key),
    new RegExp(`^arn:aws[a-z-]*:secretsmanager:${region}:\\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`),
    `the complete ARN of a Secrets Manager secret in the stack's region ${region}, with the 6-character suffix ` +
      '(arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf, as the Secrets Manager console shows it)',
  );
}

/**
 * The network of the probe and runbook-steps from the context: `vpcId`, `subnetIds`, `securityGroupIds`
 * (all three or none; the older `runbookVpcId`, `runbookSubnetIds`, `runbookSecurityGroupId` still count),
 * `routeTableIds` and `vpcEndpoints` (true or false).
 */
function networkFrom(context: (key: string) => unknown): ReplicaSentinelStackProps['network'] {
  const value = (key: string, legacy?: string) =>
    context(key) ?? (legacy === undefined ? undefined : context(legacy));
  const named = (key: string, legacy: string) =>
    context(key) === undefined && context(legacy) !== undefined ? legacy : key;
  const vpcId = matching(
    named('vpcId', 'runbookVpcId'),
    value('vpcId', 'runbookVpcId'),
    /^vpc-[0-9a-f]{8,17}$/,
    'a VPC id (vpc-…)',
  );
  const subnetIds = listOf(
    named('subnetIds', 'runbookSubnetIds'),
    value('subnetIds', 'runbookSubnetIds'),
    /^subnet-[0-9a-f]{8,17}$/,
    'a comma-separated list of subnet ids (subnet-…)',
  );
  const securityGroupIds = listOf(
    named('securityGroupIds', 'runbookSecurityGroupId'),
    value('securityGroupIds', 'runbookSecurityGroupId'),
    /^sg-[0-9a-f]{8,17}$/,
    'a comma-separated list of security group ids (sg-…)',
  );
  const routeTableIds = listOf(
    'routeTableIds',
    context('routeTableIds'),
    /^rtb-[0-9a-f]{8,17}$/,
    'a comma-separated list of route table ids (rtb-…)',
  );
  const endpoints = matching(
    'vpcEndpoints',
    context('vpcEndpoints') === undefined ? undefined : String(context('vpcEndpoints')),
    /^(true|false)$/,
    'true or false',
  );
  const given = { vpcId, subnetIds, securityGroupIds };
  const missing = Object.entries(given)
    .filter(([, v]) => v === undefined)
    .map(([key]) => key);
  if (missing.length === 3) {
    if (routeTableIds !== undefined || endpoints !== undefined) {
      throw new Error(
        'context values routeTableIds and vpcEndpoints need vpcId, subnetIds and securityGroupIds',
      );
    }
    return undefined;
  }
  if (vpcId === undefined || subnetIds === undefined || securityGroupIds === undefined) {
    throw new Error(
      `context value ${missing.join(' and ')} is missing: a network needs vpcId, subnetIds and securityGroupIds`,
    );
  }
  return {
    vpcId,
    subnetIds,
    securityGroupIds,
    routeTableIds,
    ...(endpoints === 'true' ? { vpcEndpoints: true } : {}),
  };
}

/** `-c streamShards=N` (provisioned shards, 1 to 500) or `-c streamShards=on-demand`. */
function streamCapacityFrom(value: unknown): StreamCapacity | undefined {
  if (value === undefined) return undefined;
  if (value === 'on-demand') return 'on-demand';
  const shards = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof shards !== 'number' || !Number.isInteger(shards) || shards < 1 || shards > 500) {
    throw new Error(
      `context value streamShards must be a number of provisioned shards from 1 to 500, or on-demand; got ${JSON.stringify(value)}`,
    );
  }
  return { shards };
}

/** `-c tableCapacity=on-demand`, `-c tableCapacity=provisioned` or `-c tableCapacity=provisioned:MAX`. */
function tableCapacityFrom(value: unknown): TableCapacity | undefined {
  if (value === undefined) return undefined;
  if (value === 'on-demand') return 'on-demand';
  const match = typeof value === 'string' ? /^provisioned(?::(\d+))?$/.exec(value) : null;
  const maxUnits = match ? Number(match[1] ?? DEFAULT_MAX_TABLE_UNITS) : Number.NaN;
  if (!match || !(maxUnits >= 1 && maxUnits <= 40_000)) {
    throw new Error(
      `context value tableCapacity must be on-demand, provisioned or provisioned:MAX (MAX the auto scaling ceiling in capacity units, 1 to 40000); got ${JSON.stringify(value)}`,
    );
  }
  return { provisioned: { maxUnits } };
}

/** Auto scaling ceiling of `-c tableCapacity=provisioned` (capacity units, each way). */
const DEFAULT_MAX_TABLE_UNITS = 10_000;

function sweepIntervalFrom(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  // `-c sweepIntervalSeconds=10` arrives as the string '10'; cdk.json or a test may give a number.
  const seconds = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
    throw new Error(
      `context value sweepIntervalSeconds must be an integer from 1 to 60 (seconds between two silence sweeps); ` +
        `got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}
