import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, type AppProps, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROBED_ENGINES } from '../functions/adapters/probes';
import { sweepIntervalSeconds as sweepIntervalFor, sweepIntervalProblem } from '../functions/core/cadence';
import { networkOf, probeTargets } from '../functions/core/config/deployed-stack';
import { parseClusterConfig } from '../functions/core/config/parse';
import { ClusterConfigError } from '../functions/core/config/problems';
import { type ClusterConfig, ROLE_ARN_PATTERN } from '../functions/core/config/schema';
import { resolvePolicy } from '../functions/core/policy';
import { hasPrivateAddress } from '../functions/core/private-address';
import type { SecretGrant } from './constructs/function-bindings/secrets';
import type { StreamCapacity } from './constructs/ingest';
import type { TableCapacity } from './constructs/state-store';
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
 * - `sweepIntervalSeconds`: seconds between two silence sweeps, an integer from 1 to 60 (default: a third of
 *   the smallest `heartbeatTimeoutSeconds` of the configuration file's clusters, at least 1, at most 10).
 * - `changeStreams`: `true` deploys the change-events stream and ingest-change-stream (default false).
 * - `streamShards`: provisioned shards of the Kinesis streams, 1 to 500, or `on-demand` (default 1).
 * - `tableCapacity`: `on-demand` (default), or `provisioned[:MAX]`: provisioned capacity with auto scaling
 *   from 1 to MAX units (default 10000) on the table and its index.
 * - `chatbotSlackWorkspaceId` and `chatbotSlackChannelId` (both or neither): deliver the alerts to this
 *   AWS Chatbot Slack channel (`T…` workspace id, `C…` or `G…` channel id).
 * - `slackWebhookSecretArn`: complete ARN of a Secrets Manager secret, in the stack's region, whose value
 *   is a Slack incoming-webhook URL; deploys the notify-slack subscriber.
 * - `slackWebhookSecretKeyArn`: the ARN of that secret's customer-managed KMS key, if it has one (also
 *   when the webhook secret comes from the config file).
 * - `databaseSecretKeyArn`, `slackSigningSecretKeyArn`: the KMS keys of those secrets, if they have one.
 * - `clusterSecretNamePrefix`: runbook-steps may read the secrets whose name starts with it (e.g.
 *   `replica-sentinel/`), for clusters applied with `watch --stack`; output `ClusterSecretNamePrefix`.
 *   `clusterSecretKeyArns`: the KMS keys of those secrets.
 * - `hookFunctionArns`: comma-separated ARNs of Lambda functions (in the stack's region) that clusters use as
 *   recovery hooks; runbook-steps may invoke exactly these.
 * - `hookSsmDocuments`: comma-separated names of SSM Automation documents used as recovery hooks;
 *   runbook-steps may start exactly these (default version).
 * - `hookSsmRoleArns`: comma-separated IAM role ARNs that SSM hooks run as (their `assumeRoleArn`);
 *   runbook-steps may pass exactly these to SSM (`iam:PassRole`).
 * - `databaseSecretArn`: complete ARN of a Secrets Manager secret (stack's region) with the database
 *   credentials of the built-in hooks.
 * - `vpcId`, `subnetIds` and `securityGroupIds` (comma-separated; all three or none; the older
 *   `runbookVpcId`, `runbookSubnetIds`, `runbookSecurityGroupId` still count): the network of the probe
 *   function and runbook-steps (the config file's `network` section); `routeTableIds` and
 *   `vpcEndpoints=true` add the VPC endpoints they need. Without a network, nodes with private addresses in
 *   the config file make the synth print a warning.
 * - `removalPolicy`: `retain` (default: the table, its key, the other keys and the evidence log groups
 *   survive `cdk destroy`, the table keeps deletion protection) or `destroy` (a test stack that goes away
 *   cleanly).
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
 *   hook secrets, the Lambda hooks, SSM documents and SSM roles of `hooks` (added to `hookFunctionArns`,
 *   `hookSsmDocuments` and `hookSsmRoleArns`), and `notifications` (Slack webhook secret, Chatbot channel).
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
    ...checkSecretKeys(
      withConfigFile(
        optionsFrom((key) => app.node.tryGetContext(key), region),
        configFrom(app.node.tryGetContext('config'), region),
      ),
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
  const hookSsmRoleArns = union(
    options.hookSsmRoleArns,
    hooks.flatMap((hook) => (hook?.type === 'ssm' && hook.assumeRoleArn ? [hook.assumeRoleArn] : [])),
  );
  // The file's webhook key goes with the file's webhook; a context webhook takes the context key only.
  const slackWebhookSecretKeyArn =
    options.slackWebhookSecretArn !== undefined
      ? options.slackWebhookSecretKeyArn
      : (options.slackWebhookSecretKeyArn ?? config.notifications?.slackWebhookSecretKeyArn);
  const clusterSecrets: SecretGrant[] = [
    ...config.clusters.flatMap((cluster) =>
      grant(cluster.credentialsSecretArn, cluster.credentialsKmsKeyArn),
    ),
    ...hooks.flatMap((hook) => (hook?.type === 'https' ? grant(hook.secretArn, hook.secretKmsKeyArn) : [])),
  ];
  const fileNetwork = networkOf(config);
  const network = preferContext(
    'vpcId/subnetIds/securityGroupIds',
    options.network,
    fileNetwork === undefined
      ? undefined
      : {
          vpcId: fileNetwork.vpcId,
          subnetIds: fileNetwork.subnetIds,
          securityGroupIds: fileNetwork.securityGroupIds,
          ...(fileNetwork.routeTableIds === undefined ? {} : { routeTableIds: fileNetwork.routeTableIds }),
          ...(fileNetwork.vpcEndpoints ? { vpcEndpoints: true } : {}),
        },
  );
  if (network === undefined) warnAboutPrivateNodes(config, file.path);
  const probe = config.probe;
  const targets = probeTargets(config, PROBED_ENGINES);
  // One cadence knob: the sweep follows the clusters' policies unless -c sweepIntervalSeconds says otherwise,
  // and then it must still honor every cluster's timeout.
  const policies = config.clusters.map((cluster) => resolvePolicy(cluster.policy));
  const sweepIntervalSeconds = options.sweepIntervalSeconds ?? sweepIntervalFor(policies);
  config.clusters.forEach((cluster, c) => {
    const problem = sweepIntervalProblem(sweepIntervalSeconds, policies[c]?.heartbeatTimeoutSeconds ?? 0);
    if (problem !== undefined)
      throw new Error(
        options.sweepIntervalSeconds === undefined
          ? `${file.path}: clusters[${c}].policy.heartbeatTimeoutSeconds (cluster ${cluster.id}): ${problem}`
          : `context value sweepIntervalSeconds (${sweepIntervalSeconds}) is too slow for ${file.path}: clusters[${c}].policy.heartbeatTimeoutSeconds (cluster ${cluster.id}): ${problem}`,
      );
  });
  return {
    ...options,
    sweepIntervalSeconds,
    ...(slackWebhookSecretArn === undefined ? {} : { slackWebhookSecretArn }),
    ...(chatbotSlack === undefined ? {} : { chatbotSlack }),
    ...(hookFunctionArns === undefined ? {} : { hookFunctionArns }),
    ...(hookSsmDocuments === undefined ? {} : { hookSsmDocuments }),
    ...(hookSsmRoleArns === undefined ? {} : { hookSsmRoleArns }),
    ...(slackWebhookSecretKeyArn === undefined ? {} : { slackWebhookSecretKeyArn }),
    ...(clusterSecrets.length === 0 ? {} : { clusterSecrets }),
    ...(network === undefined ? {} : { network }),
    ...(probe === undefined || !probe.enabled
      ? {}
      : {
          probes: {
            configText: file.text,
            clusterIds: config.clusters.map((cluster) => cluster.id),
            heartbeatIntervalsSeconds: targets.map((target) => target.intervalSeconds),
            secrets: targets.flatMap((target) => {
              const cluster = config.clusters.find((c) => c.id === target.clusterId);
              return cluster?.credentialsSecretArn !== undefined
                ? grant(cluster.credentialsSecretArn, cluster.credentialsKmsKeyArn)
                : grant(probe.credentialsSecretArn, probe.credentialsKmsKeyArn);
            }),
          },
        }),
  };
}

/** A secret to grant, with its key: none when the secret is not given. */
function grant(arn: string | undefined, keyArn: string | undefined): SecretGrant[] {
  return arn === undefined ? [] : [{ arn, ...(keyArn === undefined ? {} : { keyArn }) }];
}

/** Keys must come with their secrets, whichever of the context and the file gave them. */
function checkSecretKeys(options: ContextOptions): ContextOptions {
  const pairs: [string, unknown, string, unknown][] = [
    [
      'slackWebhookSecretKeyArn',
      options.slackWebhookSecretKeyArn,
      'slackWebhookSecretArn',
      options.slackWebhookSecretArn,
    ],
    ['databaseSecretKeyArn', options.databaseSecretKeyArn, 'databaseSecretArn', options.databaseSecretArn],
    [
      'slackSigningSecretKeyArn',
      options.slackSigningSecretKeyArn,
      'slackSigningSecretArn',
      options.slackSigningSecretArn,
    ],
    [
      'clusterSecretKeyArns',
      options.clusterSecretKeyArns,
      'clusterSecretNamePrefix',
      options.clusterSecretNamePrefix,
    ],
  ];
  for (const [key, value, secret, secretValue] of pairs) {
    if (value !== undefined && secretValue === undefined) {
      throw new Error(
        `context value ${key} is given without ${secret} (neither in the context nor in the config file)`,
      );
    }
  }
  return options;
}

function optionsFrom(context: (key: string) => unknown, region: string): ContextOptions {
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
    ...(sweepIntervalSeconds === undefined ? {} : { sweepIntervalSeconds }),
    ...(changeStreams === undefined ? {} : { changeStreams }),
    ...(streamCapacity === undefined ? {} : { streamCapacity }),
    ...(tableCapacity === undefined ? {} : { tableCapacity }),
    ...(workspaceId === undefined || channelId === undefined
      ? {}
      : { chatbotSlack: { workspaceId, channelId } }),
    ...(slackWebhookSecretArn === undefined ? {} : { slackWebhookSecretArn }),
    ...(slackWebhookSecretKeyArn === undefined ? {} : { slackWebhookSecretKeyArn }),
    ...(hookFunctionArns === undefined ? {} : { hookFunctionArns }),
    ...(hookSsmDocuments === undefined ? {} : { hookSsmDocuments }),
    ...(hookSsmRoleArns === undefined ? {} : { hookSsmRoleArns }),
    ...(databaseSecretArn === undefined ? {} : { databaseSecretArn }),
    ...(network === undefined ? {} : { network }),
    ...(slackSigningSecretArn === undefined ? {} : { slackSigningSecretArn }),
    ...(removalPolicy === undefined ? {} : { removalPolicy }),
    ...(databaseSecretKeyArn === undefined ? {} : { databaseSecretKeyArn }),
    ...(slackSigningSecretKeyArn === undefined ? {} : { slackSigningSecretKeyArn }),
    ...(clusterSecretNamePrefix === undefined ? {} : { clusterSecretNamePrefix }),
    ...(clusterSecretKeyArns === undefined ? {} : { clusterSecretKeyArns }),
    ...(slackAllowedUserIds === undefined ? {} : { slackAllowedUserIds }),
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

/** Prints a warning when nodes have private addresses and no network puts the functions near them. */
function warnAboutPrivateNodes(config: ClusterConfig, path: string): void {
  const nodes = config.clusters.flatMap((cluster) =>
    cluster.nodes.filter((node) => hasPrivateAddress(node.url)).map((node) => `${cluster.id}/${node.id}`),
  );
  if (nodes.length === 0) return;
  console.warn(
    `warning: ${path}: ${nodes.join(', ')} ${nodes.length === 1 ? 'has a private address' : 'have private addresses'} and no network is configured: ` +
      'the probe function and runbook-steps run outside your VPC and cannot reach them (give the network section, or -c vpcId=… -c subnetIds=… -c securityGroupIds=…)',
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
    ...(routeTableIds === undefined ? {} : { routeTableIds }),
    ...(endpoints === 'true' ? { vpcEndpoints: true } : {}),
  };
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

function booleanFrom(key: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context value ${key} must be true or false; got ${JSON.stringify(value)}`);
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

/** `value` when it is a string matching `pattern`; undefined when absent; else an error naming `key`. */
function matching(key: string, value: unknown, pattern: RegExp, expected: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`context value ${key} must be ${expected}; got ${JSON.stringify(value)}`);
  }
  return value;
}
