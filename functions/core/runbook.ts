/**
 * The recovery runbooks' contract (docs/FAILOVER.md), shared by the state machines (infra/constructs/runbooks.ts),
 * the runbook-steps Lambda (functions/runbook-steps) and local mode (local/runbook-runner.ts).
 *
 * Every Task state invokes the runbook-steps function with `{ action, state }` and replaces the state with
 * the function's result (a RunbookState). Decisions are made in code: each step sets `state.next`, and the
 * state machine only branches on it (Choice on `$.next`). The flows:
 *
 * primary-failover
 *   ReVerify(reverify)            next: proceed → TakeLock | abort → Done | wait → Rearm
 *   Rearm(Wait SecondsPath $.retryAfterSeconds) → ReVerify   (a blocked, refused or not-yet-clear run
 *                                  re-arms: it looks again with fresh evidence when the block ends)
 *   TakeLock(takeLock)            next: locked → ChooseCandidate | blocked → Rearm
 *   ChooseCandidate(chooseCandidate) next: auto → Fence | approve → RequestApproval | dry-run → RecordDryRun
 *                                      | no-candidate → NoCandidate
 *   RecordDryRun(recordDryRun)    → ReleaseLock
 *   RequestApproval(requestApproval, .waitForTaskToken, TimeoutSecondsPath $.approvalTimeoutSeconds;
 *                   the task token reaches the function as `taskToken`; the decision comes back through
 *                   SendTaskSuccess with an ApprovalDecision, placed at $.approval)
 *                                 → ApplyApproval; on States.Timeout → Expired
 *   ApplyApproval(applyApproval)  next: approved → Fence | rejected → ReleaseLock
 *   Expired(recordExpired)        → ReleaseLock
 *   Fence(fence)                  re-verifies with fresh state and asks the old primary itself first;
 *                                 next: done → Promote | ssm → the SSM wait loop | abort → Rearm (alive
 *                                 again: lock released, nothing done) | refused → Rearm (it could not be
 *                                 proven fenced: lock released, nothing done, a human paged)
 *   Promote(promote)              next: done → UpdateCluster | ssm
 *   UpdateCluster(updateCluster)  → Repoint   (the new primary is on record before anything else moves)
 *   Repoint(repoint)              next: done → Verify | ssm (resumes at Repoint: one replica per SSM run)
 *   Verify(verify)                Retry on NotYetPrimaryError (5 attempts, 2 s, backoff 2) → Complete
 *   Complete(complete)            → Done
 *   NoCandidate(noCandidate)      next: refused → Rearm (pages once, lock released, looks again)
 *   ReleaseLock(releaseLock)      → Done
 * replica-recovery (also demotes a SPLIT_BRAIN node and repoints a WRONG_SOURCE replica: `state.kind`)
 *   ReVerify(reverify)            next: proceed → TakeLock | abort → Done | wait → Rearm
 *   Rearm(Wait SecondsPath $.retryAfterSeconds) → ReVerify
 *   TakeLock(takeLock)            next: locked → Mode | blocked → Rearm
 *   Mode(Choice on $.mode)        auto → RestartReplication | approve → RequestApproval | dry-run → RecordDryRun
 *   RestartReplication(restartReplication) next: done → WaitForProgress(Wait SecondsPath $.verifyAfterSeconds)
 *                                      | ssm | preempted → Done (a failover took the lock)
 *   VerifyProgress(verifyProgress) next: recovered → Complete | not-recovered → Escalate
 *   Escalate(escalate)            next: rebuilt → WaitForProgress | paged → Complete | ssm | preempted → Done
 *   (approval, dry run, release, complete as above)
 * Both: Retry with backoff on transient errors (Lambda service errors, TransientError) and, fewer times, on
 * Lambda runtime errors (Lambda.Unknown, Sandbox.Timedout, Runtime.ExitError: every step is idempotent) on
 * every Task; Catch States.ALL on every Task → MarkFailed(markFailed, error at $.error) → Failed. MarkFailed
 * releases the lock when the run had not fenced anything yet (no epoch of its own); after that it leaves the
 * lock held for a human.
 * SSM wait loop: WaitForSsm(Wait 10 s) → GetSsm(aws-sdk:ssm:getAutomationExecution, $.ssm.executionId)
 *   → Choice on AutomationExecutionStatus: Success → Resume(Choice on $.resume) | InProgress, Pending,
 *   Waiting → WaitForSsm | else → MarkFailed.
 */
import type { ClusterMode, IncidentKind, RunbookName } from './incidents';

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
] as const;
export type RunbookAction = (typeof RUNBOOK_ACTIONS)[number];

/** Hook-running actions, and the state each resumes to after an SSM Automation hook finished. */
export const HOOK_ACTIONS = [
  'fence',
  'promote',
  'repoint',
  'restartReplication',
  'rebuild',
  'fenceUnreachable',
] as const;
export type HookAction = (typeof HOOK_ACTIONS)[number];

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
  mode?: ClusterMode;
  approvalTimeoutSeconds?: number;
  verifyAfterSeconds?: number;
  candidate?: string;
  repoint?: string[];
  /** Replicas the Repoint step has handled (repointed, started an SSM run for, or failed and recorded). */
  repointed?: string[];
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
  outcome?: string;
  error?: { Error?: string; Cause?: string };
}

/** Thrown by `verify` while the promoted node does not report as primary yet (the state machine retries). */
export class NotYetPrimaryError extends Error {
  override readonly name = 'NotYetPrimaryError';
}
