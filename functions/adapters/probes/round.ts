/**
 * What every engine's probe shares: the target and options types, credentials, mapping a replica's
 * source host:port back to a configured node id, and building wire heartbeats (docs/DESIGN.md §3a) whose
 * positions are checked against the engine's format before they leave.
 */
import type { NodeEndpoint } from '../../core/hooks';
import type { Engine } from '../../core/position';
import { positionError } from '../../core/position-parsing';
import { MAX_PROBE_DEADLINE_SECONDS } from '../../core/probe-cadence';
import type { HeartbeatInput } from '../../core/wire';
import type { CredentialsSource } from '../hooks/aws';
import {
  type DbCredentials,
  errorMessage,
  type HostPort,
  parseEndpoint,
  urlCredentials,
} from '../hooks/connection';
import { type Refusal, refusalOf } from './refusal';

/** One cluster as the configuration file names it (docs/DESIGN.md §3b). Roles are discovered, never configured. */
export interface ProbeTarget {
  readonly clusterId: string;
  readonly engine: Engine;
  readonly nodes: readonly NodeEndpoint[];
}

/** Where a probe reports what it could not observe (a node down, a refused login, a bad position). */
export interface ProbeLog {
  warn(message: string): void;
}

/** A node that answered the probe with an error (a refused login, too many connections...): it is alive. */
export interface NodeRefusal extends Refusal {
  readonly nodeId: string;
}

export interface ProbeOptions {
  /** The probe's id: the `observerId` of every heartbeat it sends. */
  readonly observerId: string;
  /** Epoch milliseconds; the observation times and the Redis heartbeat key's value. */
  readonly now: () => number;
  /** Strictly increasing per observer; called once per heartbeat. */
  readonly seq: () => number;
  /**
   * The database login per node (Secrets Manager in AWS). Default: the userinfo of the node's URL.
   * It is looked up by cluster, engine and node (`target`), as for the hooks.
   */
  readonly credentials?: CredentialsSource;
  readonly log?: ProbeLog;
  /**
   * Told of each node that answered but refused the probe. Such a node gets no heartbeat this round (it is
   * not unreachable: a live primary must never be confirmed dead by a refused login); a warning names it.
   */
  readonly onRefused?: (refusal: NodeRefusal) => void;
  /**
   * Hard deadline of each node's probe, counted from the start of the round: credentials, connect and every
   * statement. A node still not observed when it passes is abandoned (its connection destroyed) and
   * reported unreachable for itself only; the other nodes' heartbeats do not wait for it. Keep it below the
   * interval between rounds (core/probe-cadence.ts). @default PROBE_DEADLINE_MS
   */
  readonly deadlineMs?: number;
}

/**
 * Default per-node deadline of a probe, and the longest one the cadence rules derive
 * (core/probe-cadence.ts `MAX_PROBE_DEADLINE_SECONDS`).
 */
export const PROBE_DEADLINE_MS = MAX_PROBE_DEADLINE_SECONDS * 1000;

/** A node's probe passed its deadline: the node is reported unreachable (it never answered in time). */
export class ProbeDeadlineError extends Error {
  override readonly name = 'ProbeDeadlineError';
  constructor(readonly deadlineMs: number) {
    super(`no answer within the probe deadline of ${deadlineMs} ms (probe abandoned, connection closed)`);
  }
}

/** One node's deadline, as the engine probes see it. */
export interface NodeDeadline {
  /** Aborted when the deadline passes: give it to the connection so that it is destroyed then. */
  readonly signal: AbortSignal;
  /** Milliseconds left (0 once passed). */
  remainingMs(): number;
}

/** A replica's view of its replication, before its positions are checked. */
export interface ReplicationObservation {
  readonly sourceNodeId?: string | undefined;
  readonly linkUp: boolean;
  readonly receivedPosition?: string | undefined;
  readonly appliedPosition?: string | undefined;
  readonly lagSeconds?: number | undefined;
  readonly paused?: boolean | undefined;
}

/** A primary's self-fencing settings as read (see the wire's `selfFencing`). */
export interface SelfFencing {
  readonly enabled: boolean;
  readonly detail: string;
}

/**
 * What a probe saw on a node it reached. `position` is kept for a primary only, and so are `selfFencing`
 * and `datasetKeys` (absent when they could not be read).
 */
export type Observation =
  | {
      readonly role: 'primary';
      readonly position: string | undefined;
      readonly selfFencing?: SelfFencing | undefined;
      /** The data set's key count (wire `datasetKeys`); absent when it could not be counted. */
      readonly datasetKeys?: number | undefined;
    }
  | { readonly role: 'replica'; readonly replication: ReplicationObservation }
  | { readonly role: 'unknown' };

const LOCALHOST = new Set(['localhost', '127.0.0.1']);

function sameHost(a: string, b: string): boolean {
  const x = a.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const y = b.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return x === y || (LOCALHOST.has(x) && LOCALHOST.has(y));
}

/** One probe round over one cluster. */
export class ProbeRound {
  readonly target: ProbeTarget;
  readonly options: ProbeOptions;
  /** Each node's deadline; also the drivers' statement timeout (an idle timeout, which alone bounds nothing). */
  readonly deadlineMs: number;
  /** When the round started (monotonic clock): every node's deadline counts from here. */
  private readonly startedAt = performance.now();

  constructor(target: ProbeTarget, options: ProbeOptions) {
    this.target = target;
    this.options = options;
    this.deadlineMs = options.deadlineMs ?? PROBE_DEADLINE_MS;
  }

  now(): number {
    return this.options.now();
  }

  warn(message: string): void {
    this.options.log?.warn(`[probe ${this.options.observerId}] ${this.target.clusterId}: ${message}`);
  }

  /** The node's login: from the credentials source when there is one, else from its URL. */
  async credentials(node: NodeEndpoint): Promise<DbCredentials | undefined> {
    if (this.options.credentials === undefined) return urlCredentials(node);
    const { clusterId, engine } = this.target;
    return this.options.credentials({ clusterId, engine, target: node });
  }

  /**
   * The id of the configured node listening on host:port (a replica's source as the server reports it),
   * or `undefined` when none does. Hosts compare as written (a name and its address differ), except that
   * `localhost` is 127.0.0.1.
   */
  nodeIdAt(
    host: string | undefined,
    port: number | undefined,
    urlEngine: Engine,
    defaultPort: number,
  ): string | undefined {
    if (host === undefined || host === '' || port === undefined || !Number.isInteger(port)) return undefined;
    for (const node of this.target.nodes) {
      const endpoint = tryEndpoint(urlEngine, node, defaultPort);
      if (endpoint !== undefined && endpoint.port === port && sameHost(endpoint.host, host))
        return node.nodeId;
    }
    return undefined;
  }

  /** The ids of the configured nodes whose URL names `host` (any port). */
  nodeIdsAtHost(host: string | undefined, urlEngine: Engine, defaultPort: number): string[] {
    if (host === undefined || host === '') return [];
    return this.target.nodes
      .filter((node) => {
        const endpoint = tryEndpoint(urlEngine, node, defaultPort);
        return endpoint !== undefined && sameHost(endpoint.host, host);
      })
      .map((node) => node.nodeId);
  }

  /** A heartbeat of a node the probe reached. Positions that do not fit the engine's format are left out. */
  observed(nodeId: string, observation: Observation, observedAtMs = this.now()): HeartbeatInput {
    const heartbeat = this.base(nodeId, observedAtMs, true, observation.role);
    if (observation.role === 'primary') {
      const position = this.checked(nodeId, 'position', observation.position);
      if (position !== undefined) heartbeat.position = position;
      if (observation.selfFencing !== undefined) heartbeat.selfFencing = { ...observation.selfFencing };
      if (observation.datasetKeys !== undefined) heartbeat.datasetKeys = observation.datasetKeys;
    } else if (observation.role === 'replica') {
      const seen = observation.replication;
      const replication: NonNullable<HeartbeatInput['replication']> = { linkUp: seen.linkUp };
      if (seen.sourceNodeId !== undefined) replication.sourceNodeId = seen.sourceNodeId;
      const received = this.checked(nodeId, 'receivedPosition', seen.receivedPosition);
      if (received !== undefined) replication.receivedPosition = received;
      const applied = this.checked(nodeId, 'appliedPosition', seen.appliedPosition);
      if (applied !== undefined) replication.appliedPosition = applied;
      if (seen.lagSeconds !== undefined && Number.isFinite(seen.lagSeconds)) {
        // Millisecond precision; a negative lag is clock noise between two readings.
        replication.lagSeconds = Math.max(0, Math.round(seen.lagSeconds * 1000) / 1000);
      }
      if (seen.paused !== undefined) replication.paused = seen.paused;
      heartbeat.replication = replication;
    }
    return heartbeat;
  }

  /** The heartbeat of a node the probe could not observe: `reachable: false`, role unknown. */
  unreachable(nodeId: string, reason: string, observedAtMs = this.now()): HeartbeatInput {
    this.warn(`node ${nodeId} not observed: ${reason}`);
    return this.base(nodeId, observedAtMs, false, 'unknown');
  }

  /**
   * What a probe error on a node means for the round: when the server answered with an error (see
   * refusal.ts) no heartbeat (`undefined`), a warning naming the node and the reason, and `onRefused`
   * told; when it could not be reached, an unreachable heartbeat.
   */
  failed(nodeId: string, error: unknown, observedAtMs = this.now()): HeartbeatInput | undefined {
    const refusal = refusalOf(error);
    if (refusal === undefined) return this.unreachable(nodeId, errorMessage(error), observedAtMs);
    this.warn(
      `node ${nodeId} answered but refused the probe (${refusal.kind}): ${refusal.reason}; no heartbeat ` +
        'for it this round',
    );
    this.options.onRefused?.({ nodeId, ...refusal });
    return undefined;
  }

  /**
   * Runs `observe`; an error becomes an unreachable heartbeat, or none when the server refused (see
   * {@link failed}), so one bad node never hides the others.
   */
  async guarded(nodeId: string, observe: () => Promise<HeartbeatInput>): Promise<HeartbeatInput | undefined> {
    try {
      return await observe();
    } catch (error) {
      return this.failed(nodeId, error);
    }
  }

  /**
   * Runs one node's probe under the round's deadline. When the deadline passes first, the signal aborts
   * (the connection given it is destroyed), the work is abandoned (whatever it settles with later is
   * dropped) and this rejects with a {@link ProbeDeadlineError}. The timer is real time, not `now()`.
   */
  async withinDeadline<T>(work: (deadline: NodeDeadline) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const endsAt = this.startedAt + this.deadlineMs;
    const deadline: NodeDeadline = {
      signal: controller.signal,
      remainingMs: () => Math.max(0, endsAt - performance.now()),
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Timers run before I/O in Node's event loop: on a busy monitor a reply that has already arrived
        // would lose to the timer. One turn of I/O first (setImmediate runs after the poll phase).
        setImmediate(() => {
          if (finished) return;
          controller.abort();
          reject(new ProbeDeadlineError(this.deadlineMs));
        });
      }, deadline.remainingMs());
    });
    const running = work(deadline);
    // Abandoned work rejects once its connection is destroyed: nobody waits for it any more.
    running.catch(() => undefined);
    try {
      return await Promise.race([running, expired]);
    } finally {
      finished = true;
      clearTimeout(timer);
    }
  }

  /** {@link guarded} and {@link withinDeadline} together: the usual way to probe one node. */
  observeNode(
    nodeId: string,
    observe: (deadline: NodeDeadline) => Promise<HeartbeatInput>,
  ): Promise<HeartbeatInput | undefined> {
    return this.guarded(nodeId, () => this.withinDeadline(observe));
  }

  private base(
    nodeId: string,
    observedAtMs: number,
    reachable: boolean,
    role: HeartbeatInput['role'],
  ): HeartbeatInput {
    return {
      v: 1,
      clusterId: this.target.clusterId,
      nodeId,
      engine: this.target.engine,
      role,
      seq: this.options.seq(),
      observedAt: new Date(observedAtMs).toISOString(),
      observerId: this.options.observerId,
      reachable,
    };
  }

  private checked(nodeId: string, field: string, value: string | undefined): string | undefined {
    if (value === undefined || value === '') return undefined;
    const problem = positionError(this.target.engine, value);
    if (problem === undefined) return value;
    this.warn(`node ${nodeId}: ${field} left out: ${problem}`);
    return undefined;
  }
}

function tryEndpoint(engine: Engine, node: NodeEndpoint, defaultPort: number): HostPort | undefined {
  try {
    return parseEndpoint(engine, node, defaultPort);
  } catch {
    return undefined;
  }
}

/** A column of a MySQL-protocol row as text (`undefined` when absent or NULL). */
export function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** Only decimal digits: what an offset or journal id looks like. */
export function isDecimal(value: string | undefined): value is string {
  return value !== undefined && /^[0-9]+$/.test(value);
}
