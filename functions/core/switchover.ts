/**
 * The rules of a planned switchover (docs/FAILOVER.md, "Switchover"), pure: whether an operator's request
 * may go ahead on the state the monitor has now, which replica it promotes, and whether that replica has
 * caught up with the old primary's final position. The CLI asks them before it starts the runbook (a bad
 * request exits 2 and changes nothing); the runbook asks them again on fresh state before it acts.
 */
import type { NodeFailoverConfig } from './candidate';
import type { ClusterMode, Incident, OperatorRequest } from './incidents';
import type { NodeState } from './node-state';
import type { Engine } from './position';
import { comparePositions } from './position-comparison';
import { parsePosition } from './position-parsing';
import type { ClusterRecoveryState } from './recovery';

/**
 * How long the old primary's writes stay stopped if nothing resumes them (Redis CLIENT PAUSE ends by
 * itself after this): longer than catching up, promoting and demoting take, so a runbook that dies half way
 * cannot leave a primary paused for ever.
 */
export const SWITCHOVER_WRITE_PAUSE_SECONDS = 120;
/** How long the candidate has to apply the old primary's final position before writes are restored. */
export const SWITCHOVER_CATCH_UP_SECONDS = 20;
/**
 * How long the catch-up step looks at the candidate itself, every {@link SWITCHOVER_CATCH_UP_POLL_MS}, before it
 * hands over to the state machine's Wait (also this long): a candidate a few bytes behind when writes stop
 * (the usual case) has caught up milliseconds later, and a Wait of a whole second would hold writes for it.
 */
export const SWITCHOVER_POLL_SECONDS = 1;
/** The interval of the catch-up step's own looks at the candidate. */
export const SWITCHOVER_CATCH_UP_POLL_MS = 10;
/**
 * The longest one look at the candidate waits for its answer: a hung or blackholed candidate costs a look
 * this long, not a driver's connect and statement timeouts.
 */
export const SWITCHOVER_CATCH_UP_LOOK_MS = 1_000;
/**
 * The latest a switchover promotes, counted from when the old primary's writes stopped: half the Redis
 * pause, so that the promotion, the record of the new primary and the old primary's demotion (REPLICAOF
 * while still paused) have as long again before the pause ends by itself. Past it (a step that timed out
 * and was retried), Promote calls the switchover off and the old primary gets its writes back.
 */
export const SWITCHOVER_PROMOTE_WITHIN_SECONDS = SWITCHOVER_WRITE_PAUSE_SECONDS / 2;

/** What the rules need to know of the cluster. */
export interface SwitchoverContext {
  readonly mode: ClusterMode;
  readonly primaryNodeId?: string;
  readonly lockIncidentId?: string;
  readonly lockRunbook?: string;
  readonly nodes: ReadonlyMap<string, NodeState>;
  readonly config: ReadonlyMap<string, NodeFailoverConfig>;
}

/**
 * The rules' view of a cluster item and its nodes. The lock `ownIncidentId` holds (the switchover's own run
 * asking again) is left out: only someone else's lock refuses.
 */
export function switchoverContextOf(
  cluster: Pick<ClusterRecoveryState, 'mode' | 'primaryNodeId' | 'lockIncidentId' | 'lockRunbook' | 'nodes'>,
  nodes: ReadonlyMap<string, NodeState>,
  ownIncidentId?: string,
): SwitchoverContext {
  const others = cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== ownIncidentId;
  return {
    mode: cluster.mode,
    primaryNodeId: cluster.primaryNodeId,
    ...(others ? { lockIncidentId: cluster.lockIncidentId } : {}),
    ...(others && cluster.lockRunbook !== undefined ? { lockRunbook: cluster.lockRunbook } : {}),
    nodes,
    config: new Map<string, NodeFailoverConfig>(cluster.nodes.map((n) => [n.nodeId, n])),
  };
}

export type SwitchoverPlan =
  | { readonly ok: true; readonly primary: string; readonly candidate: string; readonly reason: string }
  | { readonly ok: false; readonly reason: string };

/** The primary a switchover moves away from: the recorded one, else the only node reporting primary. */
export function currentPrimary(context: SwitchoverContext): string | undefined {
  if (context.primaryNodeId !== undefined) return context.primaryNodeId;
  const primaries = [...context.nodes.values()].filter((n) => n.role === 'primary');
  return primaries.length === 1 ? primaries[0]?.nodeId : undefined;
}

/** Why `node` cannot take over from `primary` in a switchover, or undefined when it can. */
function ineligible(
  node: NodeState,
  primary: string,
  config: NodeFailoverConfig | undefined,
): string | undefined {
  if (config?.noPromote) return `${node.nodeId} is marked noPromote`;
  if (node.role !== 'replica') return `${node.nodeId} is not a replica (role ${node.role})`;
  if (node.status !== 'HEALTHY')
    return `${node.nodeId} is ${node.status}${node.statusReason ? ` (${node.statusReason})` : ''}: only a HEALTHY replica takes over`;
  if (node.sourceNodeId !== undefined && node.sourceNodeId !== primary)
    return `${node.nodeId} replicates from ${node.sourceNodeId}, not from the primary ${primary}`;
  return undefined;
}

function appliedOf(node: NodeState) {
  const raw = node.appliedPosition ?? node.position;
  if (raw === undefined) return undefined;
  try {
    return parsePosition(node.engine, raw);
  } catch {
    return undefined;
  }
}

/**
 * Whether a switchover may start, and to which replica: the cluster is not `off`, no recovery holds the
 * lock (a switchover is never queued behind one), the primary is known and HEALTHY, and the requested node
 * (or, without one, the most advanced eligible replica, then the highest priority, then the name) is a
 * HEALTHY replica of it that may be promoted.
 */
export function planSwitchover(context: SwitchoverContext, to: string | undefined): SwitchoverPlan {
  if (context.mode === 'off') return { ok: false, reason: 'the cluster mode is off' };
  if (context.lockIncidentId !== undefined)
    return {
      ok: false,
      reason: `a recovery holds the cluster lock (incident ${context.lockIncidentId}, ${context.lockRunbook ?? 'runbook'}): wait for it to end, or unlock`,
    };
  const primary = currentPrimary(context);
  if (primary === undefined)
    return { ok: false, reason: 'no primary is recorded and not exactly one node reports primary' };
  const old = context.nodes.get(primary);
  if (old === undefined) return { ok: false, reason: `the primary ${primary} has never reported` };
  if (old.status !== 'HEALTHY')
    return {
      ok: false,
      reason: `the primary ${primary} is ${old.status}: a switchover needs a healthy primary (a dead one is failed over: replica-sentinel failover)`,
    };
  if (to !== undefined) {
    if (to === primary) return { ok: false, reason: `${to} is already the primary` };
    const node = context.nodes.get(to);
    if (node === undefined)
      return {
        ok: false,
        reason: `unknown node ${to} (nodes: ${[...context.nodes.keys()].sort().join(', ') || 'none'})`,
      };
    const why = ineligible(node, primary, context.config.get(to));
    if (why !== undefined) return { ok: false, reason: why };
    return { ok: true, primary, candidate: to, reason: `${to} was asked for` };
  }
  const eligible = [...context.nodes.values()]
    .filter((n) => n.nodeId !== primary && ineligible(n, primary, context.config.get(n.nodeId)) === undefined)
    .sort((a, b) => {
      const pa = appliedOf(a);
      const pb = appliedOf(b);
      const order = pa && pb ? comparePositions(pb, pa) : undefined;
      if (order !== undefined && order !== 0) return order;
      const priority =
        (context.config.get(b.nodeId)?.priority ?? 0) - (context.config.get(a.nodeId)?.priority ?? 0);
      return priority !== 0 ? priority : a.nodeId.localeCompare(b.nodeId);
    });
  const best = eligible[0];
  if (best === undefined) return { ok: false, reason: `no HEALTHY replica of ${primary} may be promoted` };
  return {
    ok: true,
    primary,
    candidate: best.nodeId,
    reason: `${best.nodeId} is the most advanced eligible replica`,
  };
}

/**
 * Whether the candidate has applied the old primary's final position (both in the engine's position
 * format, as the hooks read them): true when at or past it; false when behind; undefined when the two
 * cannot be compared (another replication history: the switchover must not go on).
 */
export function caughtUp(
  engine: Engine,
  finalPosition: string,
  candidatePosition: string,
): boolean | undefined {
  try {
    const order = comparePositions(
      parsePosition(engine, candidatePosition),
      parsePosition(engine, finalPosition),
    );
    return order === undefined ? undefined : order >= 0;
  } catch {
    return undefined;
  }
}

/**
 * Until when (epoch ms) the catch-up step started at `now` looks at the candidate itself before it hands
 * over to the Wait state: {@link SWITCHOVER_POLL_SECONDS} of wall time, never past the catch-up deadline
 * (it still makes one look when the deadline has passed).
 */
export function catchUpLooksUntil(now: number, catchUpDeadline: number | undefined): number {
  return Math.min(now + SWITCHOVER_POLL_SECONDS * 1000, catchUpDeadline ?? now);
}

/** When the old primary's writes stopped: on record, else derived from the catch-up deadline (older runs). */
function writesStoppedAt(pause: SwitchoverPause): number | undefined {
  if (pause.writesStoppedAt !== undefined) return pause.writesStoppedAt;
  return pause.catchUpDeadline === undefined
    ? undefined
    : pause.catchUpDeadline - SWITCHOVER_CATCH_UP_SECONDS * 1000;
}

/** What a switchover's state says of its write pause. */
export interface SwitchoverPause {
  readonly writesStoppedAt?: number;
  readonly catchUpDeadline?: number;
}

/**
 * Why a switchover must no longer promote its candidate at `now` (its writes have been stopped longer than
 * {@link SWITCHOVER_PROMOTE_WITHIN_SECONDS}, or when they stopped is not known), or undefined while it may.
 */
export function promoteTooLate(pause: SwitchoverPause, now: number): string | undefined {
  const stoppedAt = writesStoppedAt(pause);
  if (stoppedAt === undefined)
    return 'when the writes stopped is not on record, so the promotion cannot be shown to end before the write pause does';
  const held = now - stoppedAt;
  if (held <= SWITCHOVER_PROMOTE_WITHIN_SECONDS * 1000) return undefined;
  return `writes had been stopped for ${Math.round(held / 1000)}s when the candidate was to be promoted, longer than the ${SWITCHOVER_PROMOTE_WITHIN_SECONDS}s a switchover promotes within (a Redis write pause ends by itself after ${SWITCHOVER_WRITE_PAUSE_SECONDS}s)`;
}

/** The incident a switchover request opens: the record its runbook works on (pure). */
export function switchoverIncident(
  clusterId: string,
  primary: NodeState,
  request: OperatorRequest,
  now: number,
): Incident {
  const incidentId = `switchover-${now.toString(36)}`;
  const what = `switchover from ${primary.nodeId}${request.to ? ` to ${request.to}` : ''} asked by ${request.by}${request.reason ? `: ${request.reason}` : ''}${request.dryRun ? ' (dry run)' : ''}`;
  return {
    clusterId,
    incidentId,
    nodeId: primary.nodeId,
    role: 'primary',
    engine: primary.engine,
    kind: 'SWITCHOVER',
    severity: 'warning',
    state: 'OPEN',
    openedAt: now,
    updatedAt: now,
    lastNodeVersion: primary.version,
    revision: 1,
    flaps: 0,
    timeline: [{ at: now, event: 'opened', to: primary.status, reason: what }],
    runbook: 'primary-switchover',
    request,
    outbox: {},
  };
}
