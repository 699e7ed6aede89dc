import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROBED_ENGINES } from '../functions/adapters/probes';
import {
  type ClusterConfig,
  ClusterConfigError,
  parseClusterConfig,
  probeTargets,
} from '../functions/core/cluster-config';
import { ReplicaSentinelStack, type ReplicaSentinelStackProps } from './stack';

/** Stack name when the `stackName` context value is not given (`cdk deploy -c stackName=...`). */
export const DEFAULT_STACK_NAME = 'ReplicaSentinel';

/** Options of {@link createApp}. */
export interface CreateAppOptions extends AppProps {
  /**
   * Register cdk-nag's AwsSolutions checks as a validation plugin (findings fail the synth).
   * Tests that only assert on templates turn it off; the cdk-nag test and `cdk synth` keep it on.
   *
   * @default true
   */
  readonly nag?: boolean;
}

/**
 * Builds the CDK app: one {@link ReplicaSentinelStack} named by the `stackName` context value, in the
 * region of the `region` context value (else CDK_DEFAULT_REGION, else AWS_REGION), checked by
 * cdk-nag 3 (AwsSolutions, verbose) through CDK's validation plugins. infra/app.ts synthesizes it; tests
 * build it with their own `outdir` and context.
 *
 * Optional context values (`cdk deploy -c key=value`), each validated; a malformed one fails the synth
 * with a message that names it:
 * - `sweepIntervalSeconds`: seconds between two silence sweeps, an integer from 1 to 60 (default 10).
 * - `chatbotSlackWorkspaceId` and `chatbotSlackChannelId` (both or neither): deliver the alerts to this
 *   AWS Chatbot Slack channel (`T…` workspace id, `C…` or `G…` channel id).
 * - `slackWebhookSecretArn`: complete ARN of a Secrets Manager secret, in the stack's region, whose value
 *   is a Slack incoming-webhook URL; deploys the notify-slack subscriber.
 * - `slackWebhookSecretKeyArn`: the ARN of that secret's customer-managed KMS key, if it has one.
 * - `hookFunctionArns`: comma-separated ARNs of Lambda functions (in the stack's region) that clusters use as
 *   recovery hooks; runbook-steps may invoke exactly these.
 * - `hookSsmDocuments`: comma-separated names of SSM Automation documents used as recovery hooks;
 *   runbook-steps may start exactly these (default version).
 * - `databaseSecretArn`: complete ARN of a Secrets Manager secret (stack's region) with the database
 *   credentials of the built-in hooks.
 * - `runbookVpcId`, `runbookSubnetIds` (comma-separated) and `runbookSecurityGroupId` (all three or none):
 *   run runbook-steps in those private subnets so that built-in hooks reach private database servers.
 * - `slackSigningSecretArn`: complete ARN of a Secrets Manager secret (stack's region) holding the Slack
 *   app's signing secret; adds the Slack route `POST /slack/actions` to the operator API.
 * - `slackAllowedUserIds`: comma-separated Slack user ids whose Approve/Reject presses are accepted (a
 *   cluster's own `slackAllowedUserIds` in the configuration file replaces it for that cluster); anyone
 *   else is refused and the attempt recorded. Without it, Slack presses are accepted on no cluster that
 *   has no list of its own.
 * - `config`: path (relative to the working directory) of the cluster configuration file (docs/DESIGN.md §3b),
 *   validated with the same schema as `watch` uses, as a deployed configuration (no password in a URL,
 *   every ARN in the stack's region); an error fails the synth with `file:line:col: field: problem`. From it:
 *   the probe function when its `probe` section is enabled (infra/constructs/probes.ts, which also applies
 *   the clusters to the table), runbook-steps' permissions on the clusters' `credentialsSecretArn` and https
 *   hook secrets, the Lambda hooks and SSM documents of `hooks` (added to `hookFunctionArns` and
 *   `hookSsmDocuments`), and `notifications` (Slack webhook secret, Chatbot channel).
 *
 * Precedence: a context value given on the command line or in cdk.json wins over the same setting in the
 * file (`slackWebhookSecretArn`, `chatbotSlackWorkspaceId`/`chatbotSlackChannelId`), and the synth says so
 * on stderr when they differ; the lists (`hookFunctionArns`, `hookSsmDocuments`) are the union of both.
 *
 * @example
 * npx cdk deploy -c region=eu-west-1 -c sweepIntervalSeconds=5 \
 *   -c slackWebhookSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-webhook-AbCdEf
 */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: ReplicaSentinelStack } {
  const { nag = true, ...appProps } = options;
  const app = new App(appProps);
  const stackName = stackNameFrom(app.node.tryGetContext('stackName'));
  // TableV2 with a customer-managed key needs a concrete region; the account may stay agnostic.
  const region = regionFrom(app.node.tryGetContext('region'));
  const stack = new ReplicaSentinelStack(app, stackName, {
    stackName,
    env: { region },
    description: 'replica-sentinel: replication health monitoring and automated recovery',
    ...withConfigFile(
      optionsFrom((key) => app.node.tryGetContext(key), region),
      configFrom(app.node.tryGetContext('config'), region),
    ),
  });
  if (nag) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  return { app, stack };
}

function regionFrom(context: unknown): string {
  // The CDK CLI sets CDK_DEFAULT_REGION from the AWS profile (us-east-1 when it finds none).
  const region = context ?? process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION;
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new Error(
      `the stack needs an AWS region: pass -c region=<region> or set AWS_REGION (got ${JSON.stringify(region)})`,
    );
  }
  return region;
}

function stackNameFrom(value: unknown): string {
  if (value === undefined) return DEFAULT_STACK_NAME;
  // CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(value)) {
    throw new Error(
      `context value stackName must be a CloudFormation stack name (a letter, then letters, digits or hyphens, ` +
        `at most 128 characters); got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The optional stack props configured through context values (see {@link createApp}). */
type ContextOptions = Pick<
  ReplicaSentinelStackProps,
  | 'sweepIntervalSeconds'
  | 'chatbotSlack'
  | 'slackWebhookSecretArn'
  | 'slackWebhookSecretKeyArn'
  | 'hookFunctionArns'
  | 'hookSsmDocuments'
  | 'databaseSecretArn'
  | 'runbookNetwork'
  | 'slackSigningSecretArn'
  | 'slackAllowedUserIds'
  | 'probes'
  | 'clusterSecretArns'
>;

/** The configuration file of the `config` context value, validated; its text is shipped to the probe function. */
interface ConfigFile {
  readonly path: string;
  readonly text: string;
  readonly config: ClusterConfig;
}

function configFrom(value: unknown, region: string): ConfigFile | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(
      `context value config must be the path of a cluster configuration file (-c config=clusters.yaml); got ${JSON.stringify(value)}`,
    );
  }
  const path = resolve(value);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `context value config: cannot read ${value} (${(error as NodeJS.ErrnoException).code ?? String(error)}); the path is relative to ${process.cwd()}`,
    );
  }
  try {
    const config = parseClusterConfig(text, value, {
      target: 'deployed',
      region,
      probedEngines: PROBED_ENGINES,
      onWarning: (message) => console.warn(`warning: ${message}`),
    });
    return { path: value, text, config };
  } catch (error) {
    if (error instanceof ClusterConfigError) {
      throw new Error(`context value config: ${value} is not a valid configuration:\n${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The context options completed by the configuration file: the context wins for single values (with a
 * message when both differ), lists are merged, and the file alone gives the probes and cluster secrets.
 */
function withConfigFile(options: ContextOptions, file: ConfigFile | undefined): ContextOptions {
  if (file === undefined) return options;
  const { config } = file;
  const preferContext = <T>(
    key: string,
    fromContext: T | undefined,
    fromFile: T | undefined,
  ): T | undefined => {
    if (
      fromContext !== undefined &&
      fromFile !== undefined &&
      JSON.stringify(fromContext) !== JSON.stringify(fromFile)
    ) {
      console.warn(`note: context value ${key} overrides the value in ${file.path}`);
    }
    return fromContext ?? fromFile;
  };
  const union = (a: readonly string[] | undefined, b: readonly string[]) => {
    const all = [...new Set([...(a ?? []), ...b])];
    return all.length === 0 ? undefined : all;
  };
  const hooks = config.clusters.flatMap((cluster) => Object.values(cluster.hooks));
  const slackWebhookSecretArn = preferContext(
    'slackWebhookSecretArn',
    options.slackWebhookSecretArn,
    config.notifications?.slackWebhookSecretArn,
  );
  const chatbotSlack = preferContext(
    'chatbotSlackWorkspaceId/chatbotSlackChannelId',
    options.chatbotSlack,
    config.notifications?.chatbot,
  );
  const hookFunctionArns = union(
    options.hookFunctionArns,
    hooks.flatMap((hook) => (hook?.type === 'lambda' ? [hook.functionArn] : [])),
  );
  const hookSsmDocuments = union(
    options.hookSsmDocuments,
    hooks.flatMap((hook) => (hook?.type === 'ssm' ? [hook.documentName] : [])),
  );
  const clusterSecretArns = union(undefined, [
    ...config.clusters.flatMap((cluster) => cluster.credentialsSecretArn ?? []),
    ...hooks.flatMap((hook) =>
      hook?.type === 'https' && hook.secretArn !== undefined ? [hook.secretArn] : [],
    ),
  ]);
  const probe = config.probe;
  const targets = probeTargets(config, PROBED_ENGINES);
  return {
    ...options,
    ...(slackWebhookSecretArn === undefined ? {} : { slackWebhookSecretArn }),
    ...(chatbotSlack === undefined ? {} : { chatbotSlack }),
    ...(hookFunctionArns === undefined ? {} : { hookFunctionArns }),
    ...(hookSsmDocuments === undefined ? {} : { hookSsmDocuments }),
    ...(clusterSecretArns === undefined ? {} : { clusterSecretArns }),
    ...(probe === undefined || !probe.enabled
      ? {}
      : {
          probes: {
            configText: file.text,
            clusterIds: config.clusters.map((cluster) => cluster.id),
            intervalSeconds: probe.intervalSeconds,
            secretArns: [...new Set(targets.flatMap((target) => target.credentialsSecretArn ?? []))],
            ...(probe.network === undefined ? {} : { network: probe.network }),
          },
        }),
  };
}

function optionsFrom(context: (key: string) => unknown, region: string): ContextOptions {
  const sweepIntervalSeconds = sweepIntervalFrom(context('sweepIntervalSeconds'));
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
  const slackWebhookSecretKeyArn = matching(
    'slackWebhookSecretKeyArn',
    context('slackWebhookSecretKeyArn'),
    new RegExp(`^arn:aws[a-z-]*:kms:${region}:\\d{12}:key/(mrk-)?[0-9a-f-]{32,36}$`),
    `the ARN of a KMS key in the stack's region ${region} (arn:aws:kms:<region>:<account>:key/<key id>)`,
  );
  if (slackWebhookSecretKeyArn !== undefined && slackWebhookSecretArn === undefined) {
    throw new Error('context value slackWebhookSecretKeyArn is given without slackWebhookSecretArn');
  }
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
  const databaseSecretArn = secretArnFrom('databaseSecretArn', context, region);
  const runbookNetwork = runbookNetworkFrom(context);
  const slackSigningSecretArn = secretArnFrom('slackSigningSecretArn', context, region);
  const slackAllowedUserIds = listOf(
    'slackAllowedUserIds',
    context('slackAllowedUserIds'),
    /^[UW][A-Z0-9]{6,20}$/,
    'a comma-separated list of Slack user ids (U or W followed by upper-case letters or digits)',
  );
  return {
    ...(sweepIntervalSeconds === undefined ? {} : { sweepIntervalSeconds }),
    ...(workspaceId === undefined || channelId === undefined
      ? {}
      : { chatbotSlack: { workspaceId, channelId } }),
    ...(slackWebhookSecretArn === undefined ? {} : { slackWebhookSecretArn }),
    ...(slackWebhookSecretKeyArn === undefined ? {} : { slackWebhookSecretKeyArn }),
    ...(hookFunctionArns === undefined ? {} : { hookFunctionArns }),
    ...(hookSsmDocuments === undefined ? {} : { hookSsmDocuments }),
    ...(databaseSecretArn === undefined ? {} : { databaseSecretArn }),
    ...(runbookNetwork === undefined ? {} : { runbookNetwork }),
    ...(slackSigningSecretArn === undefined ? {} : { slackSigningSecretArn }),
    ...(slackAllowedUserIds === undefined ? {} : { slackAllowedUserIds }),
  };
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

/** The VPC placement of runbook-steps: all three context values, or none. */
function runbookNetworkFrom(context: (key: string) => unknown): ReplicaSentinelStackProps['runbookNetwork'] {
  const vpcId = matching('runbookVpcId', context('runbookVpcId'), /^vpc-[0-9a-f]{8,17}$/, 'a VPC id (vpc-…)');
  const subnetIds = listOf(
    'runbookSubnetIds',
    context('runbookSubnetIds'),
    /^subnet-[0-9a-f]{8,17}$/,
    'a comma-separated list of subnet ids (subnet-…)',
  );
  const securityGroupId = matching(
    'runbookSecurityGroupId',
    context('runbookSecurityGroupId'),
    /^sg-[0-9a-f]{8,17}$/,
    'a security group id (sg-…)',
  );
  const given = { runbookVpcId: vpcId, runbookSubnetIds: subnetIds, runbookSecurityGroupId: securityGroupId };
  const missing = Object.entries(given)
    .filter(([, value]) => value === undefined)
    .map(([key]) => key);
  if (missing.length === 3) return undefined;
  if (vpcId === undefined || subnetIds === undefined || securityGroupId === undefined) {
    throw new Error(
      `context value ${missing.join(' and ')} is missing: runbook-steps in a VPC needs runbookVpcId, runbookSubnetIds ` +
        'and runbookSecurityGroupId',
    );
  }
  return { vpcId, subnetIds, securityGroupId };
}

/**
 * A non-empty list of strings matching `pattern`: a comma-separated string (`-c key=a,b`) or, from
 * cdk.json, an array. Undefined when absent; else an error naming `key`.
 */
function listOf(key: string, value: unknown, pattern: RegExp, expected: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items =
    typeof value === 'string'
      ? value.split(',').map((item) => item.trim())
      : Array.isArray(value)
        ? value.map((item: unknown) => (typeof item === 'string' ? item.trim() : item))
        : [value];
  const valid = items.filter((item): item is string => typeof item === 'string' && pattern.test(item));
  if (items.length === 0 || valid.length < items.length) {
    const bad = items.filter((item) => typeof item !== 'string' || !pattern.test(item));
    throw new Error(
      `context value ${key} must be ${expected}; got ${JSON.stringify(value)}` +
        (bad.length > 0 ? ` (not valid: ${bad.map((item) => JSON.stringify(item)).join(', ')})` : ''),
    );
  }
  return [...new Set(valid)];
}

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

/** `value` when it is a string matching `pattern`; undefined when absent; else an error naming `key`. */
function matching(key: string, value: unknown, pattern: RegExp, expected: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`context value ${key} must be ${expected}; got ${JSON.stringify(value)}`);
  }
  return value;
}
