/**
 * The cluster configuration file of the `config` context value: read and validated as a deployed
 * configuration, then merged into the context options (the context wins for single values, lists are
 * merged, and the file alone gives the probes and the cluster secrets).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROBED_ENGINES } from '../functions/adapters/probes';
import { sweepIntervalSeconds as sweepIntervalFor, sweepIntervalProblem } from '../functions/core/cadence';
import { networkOf, probeTargets } from '../functions/core/config/deployed-stack';
import { parseClusterConfig } from '../functions/core/config/parse';
import { ClusterConfigError } from '../functions/core/config/problems';
import type { ClusterConfig } from '../functions/core/config/schema';
import { resolvePolicy } from '../functions/core/policy';
import { hasPrivateAddress } from '../functions/core/private-address';
import type { SecretGrant } from './constructs/function-bindings/secrets';
import type { ContextOptions } from './context-options';

/** The configuration file of the `config` context value, validated; its text is shipped to the probe function. */
export interface ConfigFile {
  readonly path: string;
  readonly text: string;
  readonly config: ClusterConfig;
}

/** The file of the `config` context value, read and validated as a deployed configuration; undefined without one. */
export function configFrom(value: unknown, region: string): ConfigFile | undefined {
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
export function withConfigFile(options: ContextOptions, file: ConfigFile | undefined): ContextOptions {
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
          routeTableIds: fileNetwork.routeTableIds,
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
    slackWebhookSecretArn,
    chatbotSlack,
    hookFunctionArns,
    hookSsmDocuments,
    hookSsmRoleArns,
    slackWebhookSecretKeyArn,
    ...(clusterSecrets.length === 0 ? {} : { clusterSecrets }),
    network,
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
  return arn === undefined ? [] : [{ arn, keyArn }];
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
