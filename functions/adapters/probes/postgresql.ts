/**
 * PostgreSQL probe (streaming replication, PostgreSQL 10 or later).
 *
 * Every node, at once, each under the round's deadline: `pg_is_in_recovery()` gives the role. A primary
 * reports `pg_current_wal_lsn()`, its view of its replicas (`pg_stat_replication`) and its self-fencing
 * (`synchronous_standby_names`, `synchronous_commit`). A standby reports `pg_last_wal_receive_lsn()` (received),
 * `pg_last_wal_replay_lsn()` (applied), `pg_is_wal_replay_paused()`, its WAL receiver
 * (`pg_stat_wal_receiver`: link up when streaming, the sender's host:port naming its source) and its lag:
 * `now() - pg_last_xact_replay_timestamp()` while it has received WAL it has not replayed, 0 when it has
 * replayed all it received with the link up (an idle standby is not lagging; the timestamp of its last
 * replayed transaction says nothing then), not measured otherwise.
 *
 * The primary's view fills in what a standby's own does not say: its source when the WAL receiver shows
 * no sender address it can be mapped from, and the primary-measured replay lag when the standby has no
 * replayed transaction timestamp.
 */
import type { NodeEndpoint } from '../../core/hooks';
import { comparePositions } from '../../core/position-comparison';
import { parsePosition } from '../../core/position-parsing';
import type { HeartbeatInput } from '../../core/wire';
import { connectPostgres } from '../hooks/clients';
import { parseEndpoint } from '../hooks/connection';
import {
  type NodeDeadline,
  type Observation,
  type ProbeOptions,
  ProbeRound,
  type ProbeTarget,
  type SelfFencing,
} from './round';

const DEFAULT_PORT = 5432;

const STATUS_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
  extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_seconds,
  current_setting('synchronous_standby_names', true) AS sync_standby_names,
  current_setting('synchronous_commit', true) AS synchronous_commit`;

const RECEIVER_SQL = 'SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver';

const REPLICATION_SQL = `SELECT application_name, host(client_addr) AS client_addr, state,
  extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds
  FROM pg_stat_replication`;

interface StatusRow {
  in_recovery: boolean;
  current_lsn: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_paused: boolean | null;
  replay_age_seconds: number | null;
  sync_standby_names: string | null;
  synchronous_commit: string | null;
}

interface ReceiverRow {
  status: string;
  sender_host: string | null;
  sender_port: number | null;
}

interface ReplicationRow {
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  replay_lag_seconds: number | null;
}

interface NodeStatus {
  readonly node: NodeEndpoint;
  readonly observedAt: number;
  readonly status: StatusRow;
  readonly receiver: ReceiverRow | undefined;
  readonly replicas: readonly ReplicationRow[];
}

/** A primary's view of one of its standbys. */
interface PrimaryView {
  readonly primaryNodeId: string;
  readonly replayLagSeconds: number | undefined;
}

async function readStatus(
  round: ProbeRound,
  node: NodeEndpoint,
  deadline: NodeDeadline,
): Promise<NodeStatus> {
  const endpoint = parseEndpoint('postgresql', node, DEFAULT_PORT);
  const creds = await round.credentials(node);
  const client = await connectPostgres(endpoint, creds, {
    statementTimeoutMs: round.deadlineMs,
    applicationName: 'replica-sentinel-probe',
    signal: deadline.signal,
  });
  try {
    const status = (await client.query<StatusRow>(STATUS_SQL)).rows[0];
    if (status === undefined) throw new Error('the status query returned no row');
    const receiver = status.in_recovery ? (await client.query<ReceiverRow>(RECEIVER_SQL)).rows[0] : undefined;
    const replicas = status.in_recovery ? [] : (await client.query<ReplicationRow>(REPLICATION_SQL)).rows;
    return { node, observedAt: round.now(), status, receiver, replicas };
  } finally {
    // Not awaited past the deadline: end() waits for a server that may be frozen (the signal cut it).
    if (!deadline.signal.aborted) await client.end().catch(() => undefined);
  }
}

/**
 * Probes a PostgreSQL primary and its streaming standbys. Never rejects: a node that cannot be reached is
 * reported `reachable: false`; one that answers with an error (28P01, 53300...) gets no heartbeat.
 */
export async function probePostgres(target: ProbeTarget, options: ProbeOptions): Promise<HeartbeatInput[]> {
  const round = new ProbeRound(target, options);
  const statuses = await Promise.all(
    target.nodes.map(async (node) => {
      try {
        return await round.withinDeadline((deadline) => readStatus(round, node, deadline));
      } catch (error) {
        return round.failed(node.nodeId, error);
      }
    }),
  );
  const views = primaryViews(
    round,
    statuses.filter((s): s is NodeStatus => s !== undefined && 'status' in s),
  );
  return statuses.flatMap((status) => {
    if (status === undefined) return [];
    if (!('status' in status)) return [status];
    return [
      round.observed(
        status.node.nodeId,
        observe(round, status, views.get(status.node.nodeId)),
        status.observedAt,
      ),
    ];
  });
}

/** Standby node id → what a primary reports about it; a row is mapped by application_name, else by address. */
function primaryViews(round: ProbeRound, statuses: readonly NodeStatus[]): Map<string, PrimaryView> {
  const views = new Map<string, PrimaryView>();
  const ids = new Set(round.target.nodes.map((node) => node.nodeId));
  for (const primary of statuses) {
    const self = primary.node.nodeId;
    for (const row of primary.replicas) {
      let replicaId =
        row.application_name !== null && ids.has(row.application_name) ? row.application_name : undefined;
      if (replicaId === undefined) {
        const atHost = round
          .nodeIdsAtHost(row.client_addr ?? undefined, 'postgresql', DEFAULT_PORT)
          .filter((id) => id !== self);
        if (atHost.length === 1) replicaId = atHost[0];
      }
      if (replicaId === undefined || replicaId === self) continue;
      views.set(replicaId, {
        primaryNodeId: self,
        replayLagSeconds: row.replay_lag_seconds === null ? undefined : row.replay_lag_seconds,
      });
    }
  }
  return views;
}

function observe(round: ProbeRound, node: NodeStatus, view: PrimaryView | undefined): Observation {
  const { status, receiver } = node;
  if (!status.in_recovery) {
    return { role: 'primary', position: status.current_lsn ?? undefined, selfFencing: selfFencing(status) };
  }
  const linkUp = receiver?.status === 'streaming';
  const sourceNodeId =
    round.nodeIdAt(
      receiver?.sender_host ?? undefined,
      receiver?.sender_port ?? undefined,
      'postgresql',
      DEFAULT_PORT,
    ) ?? view?.primaryNodeId;
  const received = status.receive_lsn ?? undefined;
  const replayed = status.replay_lsn ?? undefined;
  return {
    role: 'replica',
    replication: {
      sourceNodeId,
      linkUp,
      receivedPosition: received,
      appliedPosition: replayed,
      lagSeconds: lagSeconds(status, received, replayed, linkUp, view),
      paused: status.replay_paused ?? undefined,
    },
  };
}

/**
 * A primary with synchronous standbys named stops committing when none of them acknowledges: it fences
 * itself when cut off. Not when `synchronous_commit` is `off` or `local` (commits do not wait for a
 * standby then). `undefined` when the settings could not be read.
 */
function selfFencing(status: StatusRow): SelfFencing | undefined {
  const names = status.sync_standby_names;
  if (names === null) return undefined;
  const commit = status.synchronous_commit ?? '?';
  return {
    enabled: names.trim() !== '' && commit !== 'off' && commit !== 'local',
    detail: `synchronous_standby_names '${names}', synchronous_commit ${commit}`.slice(0, 512),
  };
}

function lagSeconds(
  status: StatusRow,
  received: string | undefined,
  replayed: string | undefined,
  linkUp: boolean,
  view: PrimaryView | undefined,
): number | undefined {
  const order = lsnOrder(received, replayed);
  if (order === undefined) return undefined;
  if (order <= 0) return linkUp ? 0 : undefined;
  return status.replay_age_seconds ?? view?.replayLagSeconds;
}

/** Orders two LSNs; `undefined` when either is missing or not an LSN. */
function lsnOrder(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  try {
    return comparePositions(parsePosition('postgresql', a), parsePosition('postgresql', b));
  } catch {
    return undefined;
  }
}
