/**
 * Database probes (issue 5): observe the nodes of a cluster and describe each as a wire heartbeat
 * (docs/DESIGN.md §3a), with the probe as observer. Shared by the CLI's `watch` and the probe Lambda.
 *
 * A round reaches every node of the cluster in parallel, each under a hard deadline counted from the
 * round's start (`deadlineMs`), and returns one heartbeat per configured node, in configuration order:
 * the role as the server reports it (never configured), the position of a primary and its self-fencing
 * settings, a replica's view of its replication. A node that cannot be reached is reported
 * `reachable: false` with role `unknown`; so is one that misses the deadline (its connection is
 * destroyed), and only that one: the others' heartbeats never wait past it. A node that answers with an
 * error (a refused login, too many connections) is alive: it gets no heartbeat this round, a warning, and
 * `onRefused` is told (refusal.ts). A round never rejects because of a node.
 *
 * @example
 * let seq = Date.now();
 * const heartbeats = await probeCluster(
 *   { clusterId: 'cache-redis', engine: 'redis', nodes: [{ nodeId: 'r1', url: 'redis://127.0.0.1:7000' }] },
 *   { observerId: 'probe-1', now: Date.now, seq: () => ++seq, log: console },
 * );
 */
import type { Engine } from '../../core/position';
import type { HeartbeatInput } from '../../core/wire';
import { probeFrontends } from './doris';
import { probeMysql } from './mysql';
import { probePostgres } from './postgresql';
import { probeRedis } from './redis';
import type { ProbeOptions, ProbeTarget } from './round';

export {
  FRONTEND_QUERY_PORT,
  type FrontendRow,
  type FrontendRowSource,
  probeFrontends,
  showFrontends,
} from './doris';
export { probeMysql } from './mysql';
export { probePostgres } from './postgresql';
export { ACK_WAIT_MS, HEARTBEAT_KEY, probeRedis } from './redis';
export { type Refusal, type RefusalKind, refusalOf } from './refusal';
export {
  type NodeRefusal,
  PROBE_DEADLINE_MS,
  ProbeDeadlineError,
  type ProbeLog,
  type ProbeOptions,
  type ProbeTarget,
} from './round';

type Probe = (target: ProbeTarget, options: ProbeOptions) => Promise<HeartbeatInput[]>;

const PROBES: Partial<Record<Engine, Probe>> = {
  redis: probeRedis,
  postgresql: probePostgres,
  mysql: probeMysql,
  mariadb: probeMysql,
  doris: (target, options) => probeFrontends(target, options),
  starrocks: (target, options) => probeFrontends(target, options),
};

/** The engines with a built-in probe. */
export const PROBED_ENGINES: readonly Engine[] = Object.freeze(Object.keys(PROBES) as Engine[]);

/** True when {@link probeCluster} can probe clusters of `engine` (check it when loading a configuration). */
export function hasProbe(engine: Engine): boolean {
  return PROBES[engine] !== undefined;
}

/** A cluster's engine has no built-in probe: its nodes must send heartbeats themselves. */
export class UnsupportedProbeEngineError extends Error {
  override readonly name = 'UnsupportedProbeEngineError';
}

/**
 * Probes every node of the cluster once: one heartbeat per configured node, in configuration order, but
 * none for a node that refused the probe.
 *
 * @throws {@link UnsupportedProbeEngineError} (as a rejection) when the engine has no built-in probe
 *   (zookeeper, etcd, generic): those nodes report for themselves. Never because of a node.
 */
export async function probeCluster(target: ProbeTarget, options: ProbeOptions): Promise<HeartbeatInput[]> {
  const probe = PROBES[target.engine];
  if (probe === undefined) {
    throw new UnsupportedProbeEngineError(
      `Cluster ${target.clusterId}: there is no built-in probe for ${target.engine} (built in: ` +
        `${PROBED_ENGINES.join(', ')}). Its nodes must send heartbeats themselves (docs/DESIGN.md §3a).`,
    );
  }
  return probe(target, options);
}
