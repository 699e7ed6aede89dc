/**
 * The recovery runbooks' contract (docs/FAILOVER.md), shared by the state machines (infra/constructs/runbooks.ts),
 * the runbook-steps Lambda (functions/runbook-steps) and local mode (local/runbook-runner.ts).
 *
 * Every Task state invokes the runbook-steps function with `{ action, state }` and replaces the state with
 * the function's result (a RunbookState). Decisions are made in code: each step sets `state.next` to one of
 * the values {@link ActionNext} lists for its action, and the state machine only branches on it. The flows
 * themselves (state → action → `next` value → state) are one typed table, functions/core/runbook-flows.ts,
 * from which the CDK states are built and the tests' expected paths derived.
 */
import type { ClusterMode, IncidentKind, RunbookName } from './incidents';
import type { Engine } from './position';

export const RUNBOOK_ACTIONS = [
  'reverify',
  'takeLock',
  'chooseCandidate',
  'recordDryRun',
  'requestApproval',
  'applyApproval',
  'recordExpired',
  'fence',
  'promote',
  'repoint',
  'updateCluster',
  'verify',
  'complete',
  'noCandidate',
  'releaseLock',
  'restartReplication',
  'verifyProgress',
  'escalate',
  'markFailed',
  'checkSwitchover',
  'stopWrites',
  'awaitCatchUp',
  'resumeWrites',
  'demoteOld',
] as const;
export type RunbookAction = (typeof RUNBOOK_ACTIONS)[number];

/**
 * The `next` values each action may return: the state machine's only branching input. The flow table
 * (functions/core/runbook-flows.ts) must route every one of them and nothing else, and each step's result
 * is typed by it, so a mistyped `next` on either side is a compile error.
 */
export interface ActionNext {
  reverify: 'proceed' | 'abort' | 'wait';
  takeLock: 'locked' | 'blocked';
  chooseCandidate: 'auto' | 'approve' | 'dry-run' | 'no-candidate';
  recordDryRun: 'done';
  /** Its result is the approver's decision (SendTaskSuccess), placed at `$.approval`. */
  requestApproval: never;
  applyApproval: 'approved' | 'rejected';
  recordExpired: 'done';
  fence: 'done' | 'ssm' | 'abort' | 'refused';
  /** `called-off`: a switchover's writes have been stopped too long to promote (SWITCHOVER_FLOW only). */
  promote: 'done' | 'ssm' | 'called-off';
  repoint: 'done' | 'ssm';
  updateCluster: 'done';
  verify: 'done';
  complete: 'done';
  noCandidate: 'refused';
  releaseLock: 'done';
  restartReplication: 'done' | 'ssm' | 'preempted';
  /**
   * `not-yet`: a rejoin is judged on the node's own reports, and none since the run acted shows it under the
   * primary yet (a probe may have read the node just before the action): look again, for a while.
   */
  verifyProgress: 'recovered' | 'not-recovered' | 'not-yet';
  escalate: 'rebuilt' | 'paged' | 'ssm' | 'preempted';
  markFailed: 'failed';
  /** primary-switchover: the operator's request still holds on fresh state. */
  checkSwitchover: 'proceed' | 'refused';
  /**
   * primary-switchover: the old primary takes no more writes; its final position is in the state
   * (`called-off`: it could not be read, the writes are restored).
   */
  stopWrites: 'done' | 'ssm' | 'called-off';
  /** primary-switchover: the candidate has applied the final position, not yet, or not in time. */
  awaitCatchUp: 'caught-up' | 'waiting' | 'timed-out';
  /** primary-switchover: the old primary takes writes again (the switchover was called off). */
  resumeWrites: 'done';
  /** primary-switchover: the old primary follows the new one (or is left read-only for a rebuild). */
  demoteOld: 'done' | 'ssm';
}

/** A step's result: the state, with `next` one of the values its action may return. */
export type StepResult<A extends RunbookAction> = Omit<RunbookState, 'next'> & { next: ActionNext[A] };

/** Hook-running actions, and the state each resumes to after an SSM Automation hook finished. */
export const HOOK_ACTIONS = [
  'fence',
  'promote',
  'repoint',
  'restartReplication',
  'rebuild',
  'fenceUnreachable',
  'stopWrites',
  'resumeWrites',
] as const;
export type HookAction = (typeof HOOK_ACTIONS)[number];

/** What replica-recovery's Mode Choice routes on: the cluster's mode, or an operator's request. */
export type RunMode = ClusterMode | 'rejoin' | 'rebuild';

/** Incidents replica-recovery handles by moving a node back under the recorded primary. */
export const REJOIN_KINDS: readonly string[] = ['SPLIT_BRAIN', 'WRONG_SOURCE'] satisfies IncidentKind[];

/** A decision the approver sends back with SendTaskSuccess. */
export interface ApprovalDecision {
  approved: boolean;
  by: string;
  reason?: string;
}

/** The execution input, and the state every step passes on (steps add fields). */
export interface RunbookState {
  runbook: RunbookName;
  incidentId: string;
  clusterId: string;
  /** The incident's node: the dead primary, the stalled replica, the stale primary or misdirected replica. */
  nodeId: string;
  /**
   * The incident's kind (DEAD, STALLED, SPLIT_BRAIN, WRONG_SOURCE): what replica-recovery does with the node.
   * @default 'DEAD' for primary-failover, 'STALLED' for replica-recovery (executions started before it existed)
   */
  kind?: IncidentKind;
  /** Incident key part (the incident item is `INCIDENT#<openedAt ISO>#<incidentId>`). */
  openedAt: number;
  executionName: string;
  /** Set by the steps: */
  next?: string;
  /**
   * How the run goes on once it holds the lock (replica-recovery's Mode Choice): the cluster's mode, or for
   * a run an operator asked for (`state.requested`), `rejoin` (act now: demote or repoint) or `rebuild`
   * (run the rebuild hook now). The operator's request is the decision: no approval, whatever the mode.
   */
  mode?: RunMode;
  approvalTimeoutSeconds?: number;
  verifyAfterSeconds?: number;
  candidate?: string;
  repoint?: string[];
  /** Replicas the Repoint step has handled (repointed, started an SSM run for, or failed and recorded). */
  repointed?: string[];
  /**
   * primary-failover: the node of the replica recovery whose lock TakeLock took over; it is not promoted (a
   * rebuild hook may be wiping it).
   */
  preemptedNodeId?: string;
  /** How long Rearm waits before looking again (set by the step that re-arms the run). */
  retryAfterSeconds?: number;
  epoch?: number;
  approval?: ApprovalDecision;
  /** After a step started an SSM Automation hook: what to await, and where to resume. */
  ssm?: { executionId: string; execution?: { AutomationExecutionStatus: string } };
  resume?: string;
  /** replica-recovery: the replica's applied position when replication was restarted. */
  baseline?: string;
  /** replica-recovery: when it last acted on the node (fresh reports after it count as evidence). */
  actedAt?: number;
  /** replica-recovery: rebuild attempts so far (at most one). */
  escalations?: number;
  /**
   * What an operator asked for (who, why, the node to promote, dry run): a switchover, a rejoin or rebuild,
   * or a manual failover (then also `force`: the data-at-risk gates and the cooldown do not refuse it;
   * fencing still holds).
   */
  requested?: { by: string; reason?: string; to?: string; dryRun?: boolean; force?: boolean };
  /**
   * primary-switchover: the cluster's engine, noted by the Check (a cluster's nodes share one engine), so that
   * the steps inside the write pause do not query the node items for it before every hook.
   */
  engine?: Engine;
  /** primary-switchover: the old primary's position once it stopped taking writes. */
  finalPosition?: string;
  /** primary-switchover: when catching up is given up (epoch ms). */
  catchUpDeadline?: number;
  /** primary-switchover: when StopWrites asked the old primary to stop taking writes (epoch ms). */
  writesStoppedAt?: number;
  /** How long a Wait state waits before the step is tried again (set by the step that waits). */
  waitSeconds?: number;
  outcome?: string;
  error?: { Error?: string; Cause?: string };
}

/** Thrown by `verify` while the promoted node does not report as primary yet (the state machine retries). */
export class NotYetPrimaryError extends Error {
  override readonly name = 'NotYetPrimaryError';
}
