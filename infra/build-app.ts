/**
 * The CDK app: `createApp` builds the one stack, named and placed by the `stackName` and `region` context values,
 * with the options of the other context values and of the configuration file, and cdk-nag's checks.
 */
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFrom, withConfigFile } from './config-file';
import { type ContextOptions, optionsFrom } from './context-options';
import { ReplicaSentinelStack } from './stack';

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
