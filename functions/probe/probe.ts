/**
 * One probe round of the probe function: every configured cluster probed (functions/adapters/probes), the
 * heartbeats put on the heartbeats stream. A node that cannot be reached is an observation (a heartbeat
 * with `reachable: false`), never a failure; a cluster whose login cannot be read is a failure and sends
 * nothing, so that a missing permission is never reported as a dead database.
 */

import type { DbCredentials } from '../adapters/hooks';
import { errorMessage } from '../adapters/hooks/connection';
import type { Log } from '../adapters/log';
import { probeCluster } from '../adapters/probes';
import type { ProbeTargetConfig } from '../core/cluster-config';
import type { HeartbeatInput } from '../core/wire';
import type { HeartbeatPublisher } from './publisher';

export interface ProbeRoundDeps {
  readonly targets: readonly ProbeTargetConfig[];
  /** The `observerId` of every heartbeat. */
  readonly observerId: string;
  /** The database login of a cluster (its secret); throws when the secret cannot be read. */
  readonly credentials: (target: ProbeTargetConfig) => Promise<DbCredentials | undefined>;
  readonly publish: HeartbeatPublisher;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  /** Strictly increasing per observer, across invocations. */
  readonly seq: () => number;
  readonly logger: Log;
  /** Longest wait for one statement on a node. @default the probes' PROBE_TIMEOUT_MS */
  readonly timeoutMs?: number;
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
      try {
        return await probeCluster(target, {
          observerId: deps.observerId,
          now: deps.clock,
          seq: deps.seq,
          // No secret: the probes take the user name of the node's URL.
          ...(creds === undefined ? {} : { credentials: async () => creds }),
          log: { warn: (message) => deps.logger.warn(message, { clusterId: target.clusterId }) },
          ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
        });
      } catch (error) {
        failures.push({ clusterId: target.clusterId, reason: errorMessage(error) });
        return [];
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
