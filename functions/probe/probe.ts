/**
 * One probe round of the probe function: every configured cluster probed (functions/adapters/probes), the
 * heartbeats put on the heartbeats stream. A node that cannot be reached is an observation (a heartbeat
 * with `reachable: false`), never a failure; a cluster whose login cannot be read is a failure and sends
 * nothing, so that a missing permission is never reported as a dead database. A node that answered but
 * refused the probe (a wrong password, too many connections) gets no heartbeat and is a failure of its
 * cluster; after a refused login the cluster's secret is read again at the next round (once: a rotation).
 */

import type { CachedSecretValue, DbCredentials } from '../adapters/hooks';
import { readDbCredentials } from '../adapters/hooks';
import { errorMessage } from '../adapters/hooks/connection';
import type { Log } from '../adapters/log';
import { type NodeRefusal, probeCluster } from '../adapters/probes';
import type { ProbeTargetConfig } from '../core/config/deployed-stack';
import type { HeartbeatInput } from '../core/wire';
import type { HeartbeatPublisher } from './publisher';

export interface ProbeRoundDeps {
  readonly targets: readonly ProbeTargetConfig[];
  /** The `observerId` of every heartbeat. */
  readonly observerId: string;
  /** The database login of a cluster (its secret); throws when the secret cannot be read. */
  readonly credentials: (target: ProbeTargetConfig) => Promise<DbCredentials | undefined>;
  /** Drops the cluster's cached login after a server refused it, so the next round reads it again. */
  readonly forgetCredentials?: (target: ProbeTargetConfig) => void;
  readonly publish: HeartbeatPublisher;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  /** Strictly increasing per observer, across invocations. */
  readonly seq: () => number;
  readonly logger: Log;
  /**
   * Each node's hard deadline in a round (the probe section's `deadlineSeconds`, else derived from the
   * interval: core/probe-cadence.ts). @default the probes' PROBE_DEADLINE_MS
   */
  readonly deadlineMs?: number;
}

/** What went wrong in a round, for the invocation's error and the logs. Never holds a credential. */
export interface ProbeFailure {
  readonly clusterId?: string;
  readonly reason: string;
}

export interface ProbeRoundReport {
  readonly heartbeats: number;
  /** `clusterId/nodeId` of the nodes reported unreachable. */
  readonly unreachable: readonly string[];
  readonly failures: readonly ProbeFailure[];
}

/** Probes every target in parallel and publishes all heartbeats of the round at once. */
export async function probeRound(deps: ProbeRoundDeps): Promise<ProbeRoundReport> {
  const failures: ProbeFailure[] = [];
  const perCluster = await Promise.all(
    deps.targets.map(async (target): Promise<HeartbeatInput[]> => {
      let creds: DbCredentials | undefined;
      try {
        creds = await deps.credentials(target);
      } catch (error) {
        failures.push({
          clusterId: target.clusterId,
          reason: `the database login could not be read, so nothing was probed: ${errorMessage(error)}`,
        });
        return [];
      }
      const refusals: NodeRefusal[] = [];
      try {
        return await probeCluster(target, {
          observerId: deps.observerId,
          now: deps.clock,
          seq: deps.seq,
          // No secret: the probes take the user name of the node's URL.
          ...(creds === undefined ? {} : { credentials: async () => creds }),
          log: { warn: (message) => deps.logger.warn(message, { clusterId: target.clusterId }) },
          onRefused: (refusal) => refusals.push(refusal),
          deadlineMs: deps.deadlineMs,
        });
      } catch (error) {
        failures.push({ clusterId: target.clusterId, reason: errorMessage(error) });
        return [];
      } finally {
        failures.push(...refusalFailures(target, refusals));
        if (refusals.some((refusal) => refusal.kind === 'authentication')) deps.forgetCredentials?.(target);
      }
    }),
  );
  const heartbeats = perCluster.flat();
  const unreachable = heartbeats
    .filter((hb) => hb.reachable === false)
    .map((hb) => `${hb.clusterId}/${hb.nodeId}`);
  if (heartbeats.length > 0) {
    try {
      await deps.publish(heartbeats);
    } catch (error) {
      failures.push({ reason: errorMessage(error) });
      return { heartbeats: 0, unreachable, failures };
    }
  }
  return { heartbeats: heartbeats.length, unreachable, failures };
}

/** One failure per refusing node: it answered, so it is not unreachable, but it was not observed either. */
function refusalFailures(target: ProbeTargetConfig, refusals: readonly NodeRefusal[]): ProbeFailure[] {
  return refusals.map((refusal) => ({
    clusterId: target.clusterId,
    reason:
      `node ${refusal.nodeId} answered but refused the probe (${refusal.kind}): ${refusal.reason}` +
      (refusal.kind === 'authentication' ? '; its login is read again at the next round' : ''),
  }));
}

/**
 * The probe's logins from Secrets Manager through a cache: `credentials` reads a cluster's secret (none:
 * the URL's user name), `forgetCredentials` drops it after a refused login so a rotation is picked up at
 * the next round.
 */
export function secretLogins(
  secretValue: CachedSecretValue,
): Pick<ProbeRoundDeps, 'credentials' | 'forgetCredentials'> {
  return {
    credentials: async (target) =>
      target.credentialsSecretArn === undefined
        ? undefined
        : readDbCredentials(secretValue, target.credentialsSecretArn),
    forgetCredentials: (target) => {
      if (target.credentialsSecretArn !== undefined) secretValue.forget(target.credentialsSecretArn);
    },
  };
}
