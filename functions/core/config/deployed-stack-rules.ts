/**
 * Rules on the sections only a deployed stack uses: the probe section against the clusters (names that
 * exist, engines that can be probed, a cadence the probe rounds can keep), the network section (and its old
 * place `probe.network`), and the heartbeat timeouts a deployed sweep can honor.
 */

import { MIN_SWEEP_INTERVAL_SECONDS, sweepIntervalProblem } from '../cadence';
import { POLICY_DEFAULTS } from '../policy';
import type { Engine } from '../position';
import {
  deadlineProblem,
  defaultProbeDeadlineSeconds,
  heartbeatTimeoutProblem,
  probeIntervalProblem,
  probeRoundSeconds,
} from '../probe-cadence';
import type { ParseClusterConfigOptions } from './parse';
import { isRecord, listOf, type Path, type PathIssue } from './raw-input';

/** One network section: the top-level one; `probe.network` is its old place. */
export function networkIssues(raw: Record<string, unknown>): PathIssue[] {
  const issues: PathIssue[] = [];
  const probeNetwork = isRecord(raw.probe) ? raw.probe.network : undefined;
  if (probeNetwork !== undefined) {
    issues.push(
      raw.network !== undefined
        ? {
            severity: 'error',
            path: ['probe', 'network'],
            message:
              'give the network once, in the top-level network section (probe and runbook-steps use it)',
          }
        : {
            severity: 'warning',
            path: ['probe', 'network'],
            message:
              'is deprecated: move it to the top-level network section, which runbook-steps uses too (taken as that section for now)',
          },
    );
  }
  const network = raw.network ?? probeNetwork;
  if (isRecord(network) && network.vpcEndpoints === true && network.routeTableIds === undefined) {
    issues.push({
      severity: 'error',
      path: [
        raw.network === undefined ? 'probe' : 'network',
        ...(raw.network === undefined ? ['network'] : []),
        'vpcEndpoints',
      ],
      message: 'needs routeTableIds (the route tables of the subnets) for the DynamoDB gateway endpoint',
    });
  }
  return issues;
}

/**
 * The deployed sweep runs at most every MIN_SWEEP_INTERVAL_SECONDS and must run at least twice per
 * heartbeat timeout (core/cadence.ts): a written heartbeatTimeoutSeconds below twice that floor cannot be
 * honored by a deployed stack (locally, `local up --sweep-interval` can sweep faster).
 */
export function deployedSweepIssues(raw: Record<string, unknown>): PathIssue[] {
  const issues: PathIssue[] = [];
  listOf(raw.clusters).forEach((cluster, c) => {
    if (!isRecord(cluster) || !isRecord(cluster.policy)) return;
    const timeout = cluster.policy.heartbeatTimeoutSeconds;
    if (typeof timeout !== 'number' || !(timeout > 0)) return;
    const problem = sweepIntervalProblem(MIN_SWEEP_INTERVAL_SECONDS, timeout);
    if (problem === undefined) return;
    issues.push({
      severity: 'error',
      path: ['clusters', c, 'policy', 'heartbeatTimeoutSeconds'],
      message: `${problem} at the fastest a deployed stack sweeps: use at least ${2 * MIN_SWEEP_INTERVAL_SECONDS} s`,
    });
  });
  return issues;
}

/** The probe section against the clusters: names that exist, engines that can be probed, a useful interval. */
export function probeIssues(raw: Record<string, unknown>, options: ParseClusterConfigOptions): PathIssue[] {
  const probe = raw.probe;
  if (!isRecord(probe) || probe.enabled === false) return [];
  const issues: PathIssue[] = [];
  const clusters = listOf(raw.clusters).filter(isRecord);
  const engineOf = new Map(clusters.map((cluster) => [cluster.id, cluster.engine]));
  const canProbe = (engine: unknown) =>
    options.probedEngines === undefined || options.probedEngines.includes(engine as Engine);
  const probed = new Set<unknown>();
  if (Array.isArray(probe.clusters)) {
    probe.clusters.forEach((id, i) => {
      const path: Path = ['probe', 'clusters', i];
      if (probed.has(id)) issues.push({ severity: 'error', path, message: `lists "${id}" twice` });
      else if (!engineOf.has(id)) {
        if (typeof id === 'string')
          issues.push({ severity: 'error', path, message: `no cluster "${id}" in clusters` });
      } else if (!canProbe(engineOf.get(id))) {
        issues.push({
          severity: 'error',
          path,
          message: `cluster "${id}" is ${String(engineOf.get(id))}, which has no built-in probe (built in: ${options.probedEngines?.join(', ')}): its nodes must send heartbeats themselves`,
        });
      }
      probed.add(id);
    });
  } else {
    clusters.forEach((cluster, c) => {
      if (canProbe(cluster.engine)) probed.add(cluster.id);
      else if (typeof cluster.engine === 'string') {
        issues.push({
          severity: 'warning',
          path: ['clusters', c, 'engine'],
          message: `${cluster.engine} has no built-in probe: the probe function leaves this cluster out (its nodes must send heartbeats themselves)`,
        });
      }
    });
    if (probed.size === 0 && clusters.length > 0) {
      issues.push({
        severity: 'error',
        path: ['probe'],
        message: `no cluster can be probed (built-in probes: ${options.probedEngines?.join(', ')}): remove the probe section or set enabled: false`,
      });
    }
  }
  // One cadence knob: each probed cluster is probed every heartbeatIntervalSeconds of its policy.
  const probedClusters = clusters
    .map((cluster, c) => {
      const policy = isRecord(cluster.policy) ? cluster.policy : {};
      const writtenInterval = typeof policy.heartbeatIntervalSeconds === 'number';
      const writtenTimeout = typeof policy.heartbeatTimeoutSeconds === 'number';
      return {
        cluster,
        c,
        writtenInterval,
        writtenTimeout,
        interval: writtenInterval
          ? (policy.heartbeatIntervalSeconds as number)
          : POLICY_DEFAULTS.heartbeatIntervalSeconds,
        timeout: writtenTimeout
          ? (policy.heartbeatTimeoutSeconds as number)
          : POLICY_DEFAULTS.heartbeatTimeoutSeconds,
      };
    })
    .filter(({ cluster }) => probed.has(cluster.id));
  let schedulable = true;
  for (const { c, interval } of probedClusters) {
    if (!(interval > 0)) return issues; // reported by the schema
    const problem = probeIntervalProblem(interval);
    if (problem === undefined) continue;
    schedulable = false;
    issues.push({
      severity: 'error',
      path: ['clusters', c, 'policy', 'heartbeatIntervalSeconds'],
      message: problem,
    });
  }
  if (!schedulable) return issues;
  const roundSeconds = probeRoundSeconds(probedClusters.map(({ interval }) => interval));
  const deadlineSeconds =
    typeof probe.deadlineSeconds === 'number' && probe.deadlineSeconds > 0
      ? probe.deadlineSeconds
      : defaultProbeDeadlineSeconds(roundSeconds);
  const tooLong = deadlineProblem({ intervalSeconds: roundSeconds, deadlineSeconds });
  if (tooLong !== undefined) {
    issues.push({ severity: 'error', path: ['probe', 'deadlineSeconds'], message: tooLong });
    return issues;
  }
  for (const { cluster, c, interval, timeout, writtenInterval, writtenTimeout } of probedClusters) {
    const problem = heartbeatTimeoutProblem({ intervalSeconds: interval, deadlineSeconds }, timeout);
    if (problem === undefined) continue;
    const field = writtenTimeout || !writtenInterval ? 'heartbeatTimeoutSeconds' : 'heartbeatIntervalSeconds';
    issues.push(
      writtenTimeout || writtenInterval
        ? { severity: 'error', path: ['clusters', c, 'policy', field], message: problem }
        : {
            severity: 'error',
            path: ['probe', 'deadlineSeconds'],
            message: `cluster ${String(cluster.id)} (clusters[${c}]): ${problem}`,
          },
    );
  }
  return issues;
}
