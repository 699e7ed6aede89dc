import type { DataAtRisk } from './data-at-risk';
import type { NodeStatus, Role } from './node-state';
import type { Policy } from './policy';
import type { Engine } from './position';

export type IncidentKind =
  | 'LAGGING'
  | 'STALLED'
  | 'SILENT'
  | 'DEAD'
  | 'SPLIT_BRAIN'
  | 'WRONG_SOURCE'
  | 'DATA_LOSS'
  /** A planned switchover an operator asked for: the record its runbook works on (no node status opens it). */
  | 'SWITCHOVER'
  /** An operator's `rebuild` of a node through the cluster's rebuild hook (no node status opens it). */
  | 'REBUILD';
export type Severity = 'warning' | 'major' | 'critical';
export type IncidentState = 'OPEN' | 'RESOLVED' | 'FAILED';
export type IncidentEvent =
  | 'opened'
  | 'escalated'
  | 'deescalated'
  | 'reopened'
  | 'resolved'
  | 'noted'
  /** An operator closed it (`ack`). */
  | 'acknowledged'
  /** An operator action that involved it (unlock, a refused Slack action). */
  | 'operator';
export type RunbookName = 'replica-recovery' | 'primary-failover' | 'primary-switchover';
export type ClusterMode = 'auto' | 'approve' | 'dry-run' | 'off';

const SEVERITY: Record<IncidentKind, Severity> = {
  LAGGING: 'warning',
  STALLED: 'major',
  SILENT: 'major',
  DEAD: 'critical',
  SPLIT_BRAIN: 'critical',
  WRONG_SOURCE: 'major',
  DATA_LOSS: 'critical',
  SWITCHOVER: 'warning',
  REBUILD: 'warning',
};

/**
 * Kinds about the topology or the data, never a symptom of a source being down: a replica following the
 * dead old primary after the failover is exactly the WRONG_SOURCE case, not something its failover fixes.
 */
const NEVER_SYMPTOMS: ReadonlySet<IncidentKind> = new Set([
  'SPLIT_BRAIN',
  'WRONG_SOURCE',
  'DATA_LOSS',
  'SWITCHOVER',
  'REBUILD',
]);

/** Whether a replica's incident of this kind can be a mere symptom of its source being down. */
export function canBeSymptom(kind: IncidentKind): boolean {
  return !NEVER_SYMPTOMS.has(kind);
}
const RANK: Record<Severity, number> = { warning: 1, major: 2, critical: 3 };

export function isIncidentKind(status: NodeStatus): status is NodeStatus & IncidentKind {
  return status in SEVERITY;
}

/** A node's status change as the table stream reports it. */
export interface Transition {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly role: Role;
  /** The node's engine, for engine-specific advice in the message (absent in records before it was added). */
  readonly engine?: Engine;
  readonly from?: NodeStatus;
  readonly to: NodeStatus;
  /** The node item's version after the change: orders transitions and makes re-deliveries no-ops. */
  readonly version: number;
  readonly at: number;
  readonly reason: string;
  /** Lag figures at the time, for the message. */
  readonly lagSeconds?: number;
  readonly lagUnits?: number;
  readonly appliedPosition?: string;
  readonly sourcePosition?: string;
}

export interface TimelineEntry {
  readonly at: number;
  readonly event: IncidentEvent;
  readonly from?: NodeStatus;
  readonly to: NodeStatus;
  readonly reason: string;
  /** Operator entries: who acted (IAM ARN, `local:<user>`, `slack:<user id>`). */
  readonly by?: string;
}

/** Effects still to deliver for the incident's last change (the outbox): cleared once delivered. */
export interface Outbox {
  /** Publish the notification for this version of the incident. */
  readonly notifyVersion?: number;
  /** Start this runbook, named by the incident id. */
  readonly runbook?: RunbookName;
}

/** An operator's request that opened an incident (a planned switchover, a `rejoin` or a `rebuild` of a node). */
export interface OperatorRequest {
  /** Who asked: an IAM caller ARN, a Slack user id, or a local user. */
  readonly by: string;
  readonly reason?: string;
  /** The node to promote; absent: the runbook picks the most caught-up eligible replica. */
  readonly to?: string;
  /** Plan only: nothing is touched. */
  readonly dryRun?: boolean;
  /**
   * A manual failover only: promote even a candidate the data-at-risk gates refuse, and ignore the failover
   * cooldown (fencing is never skipped); the data at risk is stated, recorded and announced.
   */
  readonly force?: boolean;
}

export interface Incident {
  readonly clusterId: string;
  readonly incidentId: string;
  readonly nodeId: string;
  readonly role: Role;
  readonly engine?: Engine;
  readonly kind: IncidentKind;
  readonly severity: Severity;
  readonly state: IncidentState;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly resolvedAt?: number;
  /** Node version of the last transition applied; a transition at or below it changes nothing. */
  readonly lastNodeVersion: number;
  /** Incident version: one per change; a notification carries it so subscribers can deduplicate. */
  readonly revision: number;
  /** Times the node went bad again within the cooldown and this incident was reopened. */
  readonly flaps: number;
  /**
   * Runs an operator started again on this incident (a manual failover taking it over, `recover`): each
   * gets an execution name of its own (deployed Step Functions never reuse a name). @default 0
   */
  readonly attempt?: number;
  readonly timeline: readonly TimelineEntry[];
  readonly runbook?: RunbookName;
  /** What an operator asked for, on an incident an operator opened (switchover, rejoin, rebuild): who, why, which node. */
  readonly request?: OperatorRequest;
  readonly outbox: Outbox;
  /** What the runbook did, step by step (written by runbook-steps). */
  readonly runbookSteps?: readonly RunbookStepEntry[];
  /** Keys (`execution/step`) of the steps recorded, so a retried step is recorded once. */
  readonly stepKeys?: readonly string[];
  /** The failover plan: candidate, why the others were rejected, who is repointed. */
  readonly plan?: {
    readonly candidate?: string;
    readonly rejected: readonly { nodeId: string; reason: string }[];
    readonly repoint: readonly string[];
    readonly reason: string;
    /** What each node's promotion would lose, in the engine's units (functions/core/candidate.ts). */
    readonly atRisk?: readonly DataAtRisk[];
    /** One line: the chosen candidate's data at risk. */
    readonly dataAtRisk?: string;
    /** A manual failover with `force` that promoted a candidate the gates refused: who, why, what it overrode. */
    readonly forced?: { readonly by: string; readonly reason: string; readonly overrode: string };
  };
  /** Set when an operator closed the incident (`ack`): who, why, when. */
  readonly acknowledged?: { readonly by: string; readonly reason: string; readonly at: number };
  /** The task token of a pending approval (cleared when decided). */
  readonly approvalToken?: string;
  /** The figures of the latest transition. */
  readonly lagSeconds?: number;
  readonly lagUnits?: number;
  readonly appliedPosition?: string;
  readonly sourcePosition?: string;
}

/** One runbook step as recorded on the incident. */
export interface RunbookStepEntry {
  readonly at: number;
  readonly execution: string;
  readonly step: string;
  readonly detail: string;
}

/** Maintenance that mutes a node or its whole cluster. */
export interface Muting {
  readonly until: number;
  readonly by: string;
  readonly reason: string;
  readonly scope: 'cluster' | 'node';
}

export interface TransitionContext {
  /** The node's latest incident, open or resolved (undefined if it never had one). */
  readonly latest?: Incident;
  readonly policy: Policy;
  readonly mode: ClusterMode;
  /** Active maintenance of the cluster or the node, if any. */
  readonly muting?: Muting;
  /**
   * The replica's source when it is down (DEAD, or SILENT with the replica's link down): the replica's
   * trouble is a symptom of that, handled by the source's incident and its failover.
   */
  readonly sourceDown?: { readonly nodeId: string; readonly status: NodeStatus };
}

export type IncidentDecision =
  | { readonly action: 'none'; readonly why: string }
  | { readonly action: 'open'; readonly incident: Incident }
  | { readonly action: 'update'; readonly incident: Incident; readonly event: IncidentEvent };

/** FNV-1a, base 36: short, stable ids without a crypto dependency in core. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/**
 * A deterministic incident id (a re-delivered transition makes the same one), valid as a Step Functions
 * execution name (at most 80 characters of letters, digits, `-` and `_`).
 */
export function incidentIdFor(t: Pick<Transition, 'clusterId' | 'nodeId' | 'version' | 'at'>): string {
  const readable = `${t.clusterId}-${t.nodeId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32);
  // A newline cannot occur in ids (wire.ts), so two different (cluster, node) pairs never hash the same text.
  return `${readable}-${hash(`${t.clusterId}\n${t.nodeId}`)}-${t.version}-${t.at.toString(36)}`;
}

/**
 * The Step Functions execution name of the incident's runbook run: the incident id, so a repeated start
 * never runs it twice; a reopened (flapping) incident's new run gets its own name, and so does each run an
 * operator started again on it (`-a<attempt>`).
 */
export function executionNameFor(incident: Pick<Incident, 'incidentId' | 'flaps' | 'attempt'>): string {
  const base = incident.flaps === 0 ? incident.incidentId : `${incident.incidentId}-r${incident.flaps}`;
  return (incident.attempt ?? 0) === 0 ? base : `${base}-a${incident.attempt}`;
}

/**
 * Which runbook an incident of this kind hands to, by the cluster mode (none when off). A SPLIT_BRAIN
 * node (demoted to a replica of the recorded primary) and a WRONG_SOURCE replica (repointed to it) go to
 * replica-recovery; a DATA_LOSS has no runbook: nothing automatic can bring the data back, it pages.
 */
export function runbookFor(kind: IncidentKind, role: Role, mode: ClusterMode): RunbookName | undefined {
  if (mode === 'off') return undefined;
  if (kind === 'DEAD' && role === 'primary') return 'primary-failover';
  if (kind === 'STALLED' && role === 'replica') return 'replica-recovery';
  if (kind === 'SPLIT_BRAIN' || kind === 'WRONG_SOURCE') return 'replica-recovery';
  return undefined;
}

/**
 * What a status change does to the node's incident (pure, idempotent by node version):
 * - into LAGGING / STALLED / SILENT / DEAD / SPLIT_BRAIN / WRONG_SOURCE / DATA_LOSS: opens an incident,
 *   or updates the open one (escalated or
 *   deescalated by severity), or reopens the last one if it resolved less than `incidentCooldownSeconds`
 *   ago (a flapping node raises at most one incident per cooldown);
 * - into HEALTHY: resolves the open incident;
 * - into RECOVERING / FENCED / MAINTENANCE: noted on the open incident's timeline;
 * - while the node or its cluster is in maintenance: nothing opens, nothing starts (muted);
 * - a replica whose source is down opens nothing: its trouble is a symptom of the source's incident
 *   (never for SPLIT_BRAIN, WRONG_SOURCE or DATA_LOSS, which no failover of the source fixes).
 * Every change notifies once (outbox.notifyVersion); a new or escalated incident of a kind with a
 * runbook hands over to it (outbox.runbook), unless the cluster mode is `off`.
 */
export function decideIncident(t: Transition, ctx: TransitionContext): IncidentDecision {
  const latest = ctx.latest;
  if (latest && t.version <= latest.lastNodeVersion) {
    return { action: 'none', why: `node version ${t.version} already applied to ${latest.incidentId}` };
  }
  const entry = (event: IncidentEvent): TimelineEntry => ({
    at: t.at,
    event,
    from: t.from,
    to: t.to,
    reason: t.reason,
  });
  const figures = {
    lagSeconds: t.lagSeconds,
    lagUnits: t.lagUnits,
    appliedPosition: t.appliedPosition,
    sourcePosition: t.sourcePosition,
  };
  const update = (incident: Incident, event: IncidentEvent, change: Partial<Incident>): IncidentDecision => {
    const revision = incident.revision + 1;
    const next: Incident = {
      ...incident,
      ...figures,
      ...change,
      updatedAt: t.at,
      lastNodeVersion: t.version,
      revision,
      timeline: [...incident.timeline, entry(event)],
      outbox: { notifyVersion: revision, ...(change.outbox ?? {}) },
    };
    return { action: 'update', incident: next, event };
  };

  if (isIncidentKind(t.to)) {
    if (ctx.muting) {
      const m = ctx.muting;
      return {
        action: 'none',
        why: `muted: ${m.scope} in maintenance until ${new Date(m.until).toISOString()} by ${m.by} (${m.reason})`,
      };
    }
    const sourceDown = canBeSymptom(t.to) ? ctx.sourceDown : undefined;
    if (sourceDown && t.role === 'replica' && latest?.state !== 'OPEN') {
      const source = sourceDown;
      return {
        action: 'none',
        why: `symptom: its source ${source.nodeId} is ${source.status}; handled by that node's incident and failover`,
      };
    }
    const severity = SEVERITY[t.to];
    const runbook = runbookFor(t.to, t.role, ctx.mode);
    if (latest?.state === 'OPEN') {
      const rank = RANK[severity] - RANK[latest.severity];
      const event: IncidentEvent = rank > 0 ? 'escalated' : rank < 0 ? 'deescalated' : 'noted';
      // A replica's own recovery cannot help while its source is down: the source's failover repoints it.
      const startRunbook = runbook !== undefined && runbook !== latest.runbook && !sourceDown;
      return update(latest, event, {
        kind: t.to,
        severity,
        role: t.role,
        engine: t.engine ?? latest.engine,
        // A new runbook is automatic: an operator's request made for the previous one does not carry over.
        ...(startRunbook ? { runbook, outbox: { runbook }, request: undefined } : {}),
      });
    }
    if (latest?.state === 'RESOLVED' && latest.resolvedAt !== undefined) {
      if (t.at - latest.resolvedAt < ctx.policy.incidentCooldownSeconds * 1000) {
        return update(latest, 'reopened', {
          kind: t.to,
          severity,
          role: t.role,
          engine: t.engine ?? latest.engine,
          state: 'OPEN',
          resolvedAt: undefined,
          flaps: latest.flaps + 1,
          // Reopened by the node itself: whatever an operator asked of the earlier run (a manual failover's
          // `to` and `force`) was a decision about then, not now.
          request: undefined,
          ...(runbook ? { runbook, outbox: { runbook } } : { runbook: undefined }),
        });
      }
    }
    const incident: Incident = {
      clusterId: t.clusterId,
      incidentId: incidentIdFor(t),
      nodeId: t.nodeId,
      role: t.role,
      engine: t.engine,
      kind: t.to,
      severity,
      state: 'OPEN',
      openedAt: t.at,
      updatedAt: t.at,
      lastNodeVersion: t.version,
      revision: 1,
      flaps: 0,
      timeline: [entry('opened')],
      ...figures,
      ...(runbook ? { runbook } : {}),
      outbox: { notifyVersion: 1, ...(runbook ? { runbook } : {}) },
    };
    return { action: 'open', incident };
  }

  if (latest?.state !== 'OPEN') return { action: 'none', why: `${t.to} with no open incident` };
  if (t.to === 'HEALTHY') return update(latest, 'resolved', { state: 'RESOLVED', resolvedAt: t.at });
  return update(latest, 'noted', {});
}
