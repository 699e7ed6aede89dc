/**
 * The recovery runbooks' contract (DESIGN.md §5), shared by the state machines (infra/constructs/runbooks.ts),
 * the runbook-steps Lambda (functions/runbook-steps) and local mode (local/runbook-runner.ts).
 *
 * Every Task state invokes the runbook-steps function with `{ action, state }` and replaces the state with
 * the function's result (a RunbookState). Decisions are made in code: each step sets `state.next`, and the
 * state machine only branches on it (Choice on `$.next`). The flows:
 *
 * primary-failover
 *   ReVerify(reverify)            next: proceed → TakeLock | abort → Done
 *   TakeLock(takeLock)            next: locked → ChooseCandidate | blocked → Done
 *   ChooseCandidate(chooseCandidate) next: auto → Fence | approve → RequestApproval | dry-run → RecordDryRun
 *                                      | no-candidate → NoCandidate
 *   RecordDryRun(recordDryRun)    → ReleaseLock
 *   RequestApproval(requestApproval, .waitForTaskToken, TimeoutSecondsPath $.approvalTimeoutSeconds;
 *                   the task token reaches the function as `taskToken`; the decision comes back through
 *                   SendTaskSuccess with an ApprovalDecision, placed at $.approval)
 *                                 → ApplyApproval; on States.Timeout → Expired
 *   ApplyApproval(applyApproval)  next: approved → Fence | rejected → ReleaseLock
 *   Expired(recordExpired)        → ReleaseLock
 *   Fence(fence) → Promote(promote) → Repoint(repoint) → UpdateCluster(updateCluster) → Verify(verify)
 *                                 (each hook step: next: done → the following step | ssm → the SSM wait loop,
 *                                  which resumes at `state.resume`)
 *   Verify(verify)                Retry on NotYetPrimaryError (5 attempts, 2 s, backoff 2) → Complete
 *   Complete(complete)            → Done
 *   NoCandidate(noCandidate)      → Failed
 *   ReleaseLock(releaseLock)      → Done
 * replica-recovery
 *   ReVerify(reverify)            next: proceed → TakeLock | abort → Done
 *   TakeLock(takeLock)            next: locked → Mode | blocked → Done   (a node lock, not the cluster's)
 *   Mode(Choice on $.mode)        auto → RestartReplication | approve → RequestApproval | dry-run → RecordDryRun
 *   RestartReplication(restartReplication) → WaitForProgress(Wait SecondsPath $.verifyAfterSeconds)
 *   VerifyProgress(verifyProgress) next: recovered → Complete | not-recovered → Escalate
 *   Escalate(escalate)            next: rebuilt → WaitForProgress | paged → Complete
 *   (approval, dry run, release, complete as above)
 * Both: Retry with backoff on transient errors (Lambda service errors, TransientError) on every Task;
 * Catch States.ALL on every Task → MarkFailed(markFailed, error at $.error) → Failed (lock left held).
 * SSM wait loop: WaitForSsm(Wait 10 s) → GetSsm(aws-sdk:ssm:getAutomationExecution, $.ssm.executionId)
 *   → Choice on AutomationExecutionStatus: Success → Resume(Choice on $.resume) | InProgress, Pending,
 *   Waiting → WaitForSsm | else → MarkFailed.
 */
import type { ClusterMode, RunbookName } from './incidents';

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
  /** The incident's node: the dead primary, or the stalled replica. */
  nodeId: string;
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
  epoch?: number;
  approval?: ApprovalDecision;
  /** After a step started an SSM Automation hook: what to await, and where to resume. */
  ssm?: { executionId: string; execution?: { AutomationExecutionStatus: string } };
  resume?: string;
  /** replica-recovery: the replica's applied position when replication was restarted. */
  baseline?: string;
  /** replica-recovery: rebuild attempts so far (at most one). */
  escalations?: number;
  outcome?: string;
  error?: { Error?: string; Cause?: string };
}

/** Thrown by `verify` while the promoted node does not report as primary yet (the state machine retries). */
export class NotYetPrimaryError extends Error {
  override readonly name = 'NotYetPrimaryError';
}
