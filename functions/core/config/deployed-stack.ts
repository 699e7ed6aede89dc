/**
 * What a deployed stack takes from a validated configuration: the clusters the probe function probes (with
 * the secret of their login), the schedule of its rounds, and the network section its functions run in.
 */

import type { NodeEndpoint } from '../hooks';
import { resolvePolicy } from '../policy';
import type { Engine } from '../position';
import { defaultProbeDeadlineSeconds, probeRoundSeconds } from '../probe-cadence';
import type { ClusterConfig, ProbeConfig } from './schema';

/** The network section in force: the top-level one, else the deprecated `probe.network`. */
export function networkOf(config: ClusterConfig): ClusterConfig['network'] {
  return config.network ?? config.probe?.network;
}

/**
 * When the probe function runs its rounds: every `roundSeconds` (the greatest common divisor of the probed
 * clusters' `heartbeatIntervalSeconds` and 60), each node given `deadlineSeconds` (`probe.deadlineSeconds`,
 * else derived from `roundSeconds`). A validated configuration's targets always fit.
 */
export function probeSchedule(
  targets: readonly Pick<ProbeTargetConfig, 'intervalSeconds'>[],
  probe: ProbeConfig,
): {
  readonly roundSeconds: number;
  readonly deadlineSeconds: number;
} {
  const roundSeconds = probeRoundSeconds(targets.map((target) => target.intervalSeconds));
  return {
    roundSeconds,
    deadlineSeconds: probe.deadlineSeconds ?? defaultProbeDeadlineSeconds(roundSeconds),
  };
}

/** One cluster as the probe function sees it: what to probe, and the secret with its database login. */
export interface ProbeTargetConfig {
  readonly clusterId: string;
  readonly engine: Engine;
  readonly nodes: readonly NodeEndpoint[];
  /** The cluster's `credentialsSecretArn`, else the probe section's; absent: the URL's user name only. */
  readonly credentialsSecretArn?: string;
  /** Seconds between two probes of the cluster: its policy's `heartbeatIntervalSeconds`. */
  readonly intervalSeconds: number;
}

/**
 * The clusters the probe function probes (`probe.clusters`, else every cluster whose engine is in
 * `probedEngines`), each with the secret of its login. Empty when there is no enabled probe section.
 */
export function probeTargets(config: ClusterConfig, probedEngines: readonly Engine[]): ProbeTargetConfig[] {
  const probe = config.probe;
  if (probe === undefined || !probe.enabled) return [];
  const chosen = probe.clusters === undefined ? undefined : new Set(probe.clusters);
  return config.clusters
    .filter((cluster) =>
      chosen === undefined ? probedEngines.includes(cluster.engine) : chosen.has(cluster.id),
    )
    .map((cluster) => {
      const secretArn = cluster.credentialsSecretArn ?? probe.credentialsSecretArn;
      return {
        clusterId: cluster.id,
        engine: cluster.engine,
        nodes: cluster.nodes.map((node) => ({ nodeId: node.id, url: node.url })),
        intervalSeconds: resolvePolicy(cluster.policy).heartbeatIntervalSeconds,
        credentialsSecretArn: secretArn,
      };
    });
}
