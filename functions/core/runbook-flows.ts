/**
 * The three runbooks as one typed table each: state → what it does → where each `next` value goes.
 * infra/constructs/runbooks.ts builds the Step Functions states from these tables (nothing else), the tests
 * derive their expected state paths from them ({@link flowPath}), and docs/FAILOVER.md describes them.
 *
 * A Task state names its action and routes every `next` value that action may return (ActionNext in
 * functions/core/runbook.ts) to a state of the same flow: a missing, extra or mistyped value, or a target
 * that is not a state of the flow, is a compile error. An action with a single `next` value (`done`) is
 * routed with `goto`. Every Task also retries transient and Lambda runtime errors and sends any other error
 * to MarkFailed → Failed (see infra/constructs/runbooks.ts); a `next` value the table does not route goes
 * to MarkFailed too.
 */
import type { RunbookName } from './incidents';
import type { ActionNext, RunbookAction } from './runbook';

/** Actions whose only `next` value is `done`: routed with `goto`. */
type SingleNext = {
  [A in RunbookAction]: [ActionNext[A]] extends ['done'] ? A : never;
}[RunbookAction];

/** Actions that branch on `next`. */
type Branching = Exclude<RunbookAction, SingleNext | 'requestApproval' | 'markFailed'>;

/**
 * `next` values only one runbook's steps return: the other flows with that action need not route them (one
 * returned anyway would go to MarkFailed, as any unrouted value). A switchover's Promote calls it off.
 */
interface OnlySomeFlows {
  promote: 'called-off';
}
type OnlySome<A extends RunbookAction> = A extends keyof OnlySomeFlows ? OnlySomeFlows[A] : never;

/** One state of a flow whose state names are `S`. */
export type FlowState<S extends string> =
  | {
      [A in Branching]: {
        readonly type: 'task';
        readonly action: A;
        readonly on: { readonly [N in Exclude<ActionNext[A], OnlySome<A>>]: S } & {
          readonly [N in OnlySome<A>]?: S;
        };
        /** Retry NotYetPrimaryError (the promoted node does not report primary yet). */
        readonly retryNotYetPrimary?: true;
      };
    }[Branching]
  | {
      [A in SingleNext]: {
        readonly type: 'task';
        readonly action: A;
        readonly goto: S;
        readonly retryNotYetPrimary?: true;
      };
    }[SingleNext]
  /** requestApproval with a task token; the decision lands at `$.approval`; States.Timeout → `expired`. */
  | { readonly type: 'approval'; readonly goto: S; readonly expired: S }
  /** A Wait of the seconds at `secondsPath` in the state (or fixed `seconds`). */
  | { readonly type: 'wait'; readonly secondsPath: string; readonly goto: S }
  /** A Choice on a field the steps set (not `$.next`), e.g. `$.mode`. */
  | { readonly type: 'choice'; readonly field: string; readonly on: Readonly<Record<string, S>> }
  /**
   * The SSM wait loop: polls `$.ssm.executionId` every 10 s; on Success resumes at the state named in
   * `$.resume`, which must be one of `resume`; any other end goes to MarkFailed.
   */
  | { readonly type: 'ssm'; readonly resume: readonly S[] }
  | { readonly type: 'succeed' };

/** A flow: its first state, and its states by name. `MarkFailed` and `Failed` are implicit. */
export interface Flow<S extends string> {
  readonly start: S;
  readonly states: { readonly [K in S]: FlowState<S> };
}

type FailoverState =
  | 'ReVerify'
  | 'Rearm'
  | 'TakeLock'
  | 'ChooseCandidate'
  | 'RecordDryRun'
  | 'RequestApproval'
  | 'ApplyApproval'
  | 'Expired'
  | 'Fence'
  | 'Promote'
  | 'UpdateCluster'
  | 'Repoint'
  | 'Verify'
  | 'Complete'
  | 'NoCandidate'
  | 'ReleaseLock'
  | 'WaitForSsm'
  | 'Done';

/**
 * primary-failover: re-verify the DEAD verdict with fresh evidence, take the lock, choose the candidate
 * (the plan with its data at risk), approval by mode, fence the old primary (asked on the server itself),
 * promote, record the new primary, repoint the others, verify a write round-trip. A blocked, refused or
 * not-yet-clear run re-arms (Rearm) and looks again with fresh evidence instead of ending.
 */
export const FAILOVER_FLOW: Flow<FailoverState> = {
  start: 'ReVerify',
  states: {
    ReVerify: { type: 'task', action: 'reverify', on: { proceed: 'TakeLock', abort: 'Done', wait: 'Rearm' } },
    Rearm: { type: 'wait', secondsPath: '$.retryAfterSeconds', goto: 'ReVerify' },
    TakeLock: { type: 'task', action: 'takeLock', on: { locked: 'ChooseCandidate', blocked: 'Rearm' } },
    ChooseCandidate: {
      type: 'task',
      action: 'chooseCandidate',
      on: {
        auto: 'Fence',
        approve: 'RequestApproval',
        'dry-run': 'RecordDryRun',
        'no-candidate': 'NoCandidate',
      },
    },
    RecordDryRun: { type: 'task', action: 'recordDryRun', goto: 'ReleaseLock' },
    RequestApproval: { type: 'approval', goto: 'ApplyApproval', expired: 'Expired' },
    ApplyApproval: {
      type: 'task',
      action: 'applyApproval',
      on: { approved: 'Fence', rejected: 'ReleaseLock' },
    },
    Expired: { type: 'task', action: 'recordExpired', goto: 'ReleaseLock' },
    Fence: {
      type: 'task',
      action: 'fence',
      on: { done: 'Promote', ssm: 'WaitForSsm', abort: 'Rearm', refused: 'Rearm' },
    },
    Promote: { type: 'task', action: 'promote', on: { done: 'UpdateCluster', ssm: 'WaitForSsm' } },
    UpdateCluster: { type: 'task', action: 'updateCluster', goto: 'Repoint' },
    Repoint: { type: 'task', action: 'repoint', on: { done: 'Verify', ssm: 'WaitForSsm' } },
    Verify: { type: 'task', action: 'verify', goto: 'Complete', retryNotYetPrimary: true },
    Complete: { type: 'task', action: 'complete', goto: 'Done' },
    NoCandidate: { type: 'task', action: 'noCandidate', on: { refused: 'Rearm' } },
    ReleaseLock: { type: 'task', action: 'releaseLock', goto: 'Done' },
    WaitForSsm: { type: 'ssm', resume: ['Promote', 'UpdateCluster', 'Repoint'] },
    Done: { type: 'succeed' },
  },
};

type RecoveryState =
  | 'ReVerify'
  | 'Rearm'
  | 'TakeLock'
  | 'Mode'
  | 'RecordDryRun'
  | 'RequestApproval'
  | 'ApplyApproval'
  | 'Expired'
  | 'RestartReplication'
  | 'WaitForProgress'
  | 'VerifyProgress'
  | 'Escalate'
  | 'Complete'
  | 'ReleaseLock'
  | 'WaitForSsm'
  | 'Done';

/**
 * replica-recovery: restart replication on a STALLED replica (then a rebuild hook, then a page), demote a
 * SPLIT_BRAIN node or repoint a WRONG_SOURCE replica under the recorded primary (`state.kind`); success is
 * judged on the node's own fresh reports. A failover that takes the lock preempts it. An operator's
 * request (`rejoin`, `rebuild`) skips the mode: `rejoin` acts at once, `rebuild` starts at the rebuild hook
 * (Escalate), and both are judged on the node's fresh reports like a rejoin.
 */
export const RECOVERY_FLOW: Flow<RecoveryState> = {
  start: 'ReVerify',
  states: {
    ReVerify: { type: 'task', action: 'reverify', on: { proceed: 'TakeLock', abort: 'Done', wait: 'Rearm' } },
    Rearm: { type: 'wait', secondsPath: '$.retryAfterSeconds', goto: 'ReVerify' },
    TakeLock: { type: 'task', action: 'takeLock', on: { locked: 'Mode', blocked: 'Rearm' } },
    Mode: {
      type: 'choice',
      field: '$.mode',
      on: {
        auto: 'RestartReplication',
        approve: 'RequestApproval',
        'dry-run': 'RecordDryRun',
        rejoin: 'RestartReplication',
        rebuild: 'Escalate',
      },
    },
    RecordDryRun: { type: 'task', action: 'recordDryRun', goto: 'ReleaseLock' },
    RequestApproval: { type: 'approval', goto: 'ApplyApproval', expired: 'Expired' },
    ApplyApproval: {
      type: 'task',
      action: 'applyApproval',
      on: { approved: 'RestartReplication', rejected: 'ReleaseLock' },
    },
    Expired: { type: 'task', action: 'recordExpired', goto: 'ReleaseLock' },
    RestartReplication: {
      type: 'task',
      action: 'restartReplication',
      on: { done: 'WaitForProgress', ssm: 'WaitForSsm', preempted: 'Done' },
    },
    WaitForProgress: { type: 'wait', secondsPath: '$.verifyAfterSeconds', goto: 'VerifyProgress' },
    VerifyProgress: {
      type: 'task',
      action: 'verifyProgress',
      on: { recovered: 'Complete', 'not-recovered': 'Escalate', 'not-yet': 'WaitForProgress' },
    },
    Escalate: {
      type: 'task',
      action: 'escalate',
      on: { rebuilt: 'WaitForProgress', paged: 'Complete', ssm: 'WaitForSsm', preempted: 'Done' },
    },
    Complete: { type: 'task', action: 'complete', goto: 'Done' },
    ReleaseLock: { type: 'task', action: 'releaseLock', goto: 'Done' },
    WaitForSsm: { type: 'ssm', resume: ['WaitForProgress'] },
    Done: { type: 'succeed' },
  },
};

type SwitchoverState =
  | 'Check'
  | 'TakeLock'
  | 'ChooseCandidate'
  | 'RecordDryRun'
  | 'RequestApproval'
  | 'ApplyApproval'
  | 'Expired'
  | 'StopWrites'
  | 'AwaitCatchUp'
  | 'WaitForCatchUp'
  | 'ResumeWrites'
  | 'Promote'
  | 'UpdateCluster'
  | 'DemoteOld'
  | 'Repoint'
  | 'Verify'
  | 'Complete'
  | 'ReleaseLock'
  | 'WaitForSsm'
  | 'Done';

/**
 * primary-switchover: a planned move of the primary role with no acknowledged write lost. Check the
 * request on fresh state, take the lock (a running recovery or the cooldown refuses it: an operator's
 * request is not queued), choose or confirm the candidate, approval by mode, stop writes on the old
 * primary and note its final position, wait until the candidate has applied exactly that (not in time, or
 * Promote finding the writes stopped too long: writes are restored and nothing else changes), then move the
 * epoch and promote, record the new primary, make the old primary follow it, repoint the others, verify a
 * write round-trip.
 */
export const SWITCHOVER_FLOW: Flow<SwitchoverState> = {
  start: 'Check',
  states: {
    Check: { type: 'task', action: 'checkSwitchover', on: { proceed: 'TakeLock', refused: 'Done' } },
    TakeLock: { type: 'task', action: 'takeLock', on: { locked: 'ChooseCandidate', blocked: 'Done' } },
    ChooseCandidate: {
      type: 'task',
      action: 'chooseCandidate',
      on: {
        auto: 'StopWrites',
        approve: 'RequestApproval',
        'dry-run': 'RecordDryRun',
        'no-candidate': 'ReleaseLock',
      },
    },
    RecordDryRun: { type: 'task', action: 'recordDryRun', goto: 'ReleaseLock' },
    RequestApproval: { type: 'approval', goto: 'ApplyApproval', expired: 'Expired' },
    ApplyApproval: {
      type: 'task',
      action: 'applyApproval',
      on: { approved: 'StopWrites', rejected: 'ReleaseLock' },
    },
    Expired: { type: 'task', action: 'recordExpired', goto: 'ReleaseLock' },
    StopWrites: {
      type: 'task',
      action: 'stopWrites',
      on: { done: 'AwaitCatchUp', ssm: 'WaitForSsm', 'called-off': 'ResumeWrites' },
    },
    AwaitCatchUp: {
      type: 'task',
      action: 'awaitCatchUp',
      on: { 'caught-up': 'Promote', waiting: 'WaitForCatchUp', 'timed-out': 'ResumeWrites' },
    },
    WaitForCatchUp: { type: 'wait', secondsPath: '$.waitSeconds', goto: 'AwaitCatchUp' },
    ResumeWrites: { type: 'task', action: 'resumeWrites', goto: 'ReleaseLock' },
    Promote: {
      type: 'task',
      action: 'promote',
      on: { done: 'UpdateCluster', ssm: 'WaitForSsm', 'called-off': 'ResumeWrites' },
    },
    UpdateCluster: { type: 'task', action: 'updateCluster', goto: 'DemoteOld' },
    DemoteOld: { type: 'task', action: 'demoteOld', on: { done: 'Repoint', ssm: 'WaitForSsm' } },
    Repoint: { type: 'task', action: 'repoint', on: { done: 'Verify', ssm: 'WaitForSsm' } },
    Verify: { type: 'task', action: 'verify', goto: 'Complete', retryNotYetPrimary: true },
    Complete: { type: 'task', action: 'complete', goto: 'Done' },
    ReleaseLock: { type: 'task', action: 'releaseLock', goto: 'Done' },
    WaitForSsm: { type: 'ssm', resume: ['AwaitCatchUp', 'UpdateCluster', 'Repoint'] },
    Done: { type: 'succeed' },
  },
};

/** The flow of each runbook. */
export const RUNBOOK_FLOWS: { readonly [R in RunbookName]: Flow<string> } = {
  'primary-failover': FAILOVER_FLOW,
  'replica-recovery': RECOVERY_FLOW,
  'primary-switchover': SWITCHOVER_FLOW,
};

/** The state a Task of `flow` goes to on `next` (undefined: not routed, i.e. MarkFailed). */
export function routeOf(flow: Flow<string>, state: string, next: string): string | undefined {
  const spec = flow.states[state];
  if (spec === undefined) return undefined;
  switch (spec.type) {
    case 'task':
      return 'goto' in spec ? spec.goto : (spec.on as Record<string, string>)[next];
    case 'choice':
      return spec.on[next];
    case 'approval':
    case 'wait':
      return spec.goto;
    default:
      return undefined;
  }
}

/**
 * The states a run of `flow` passes through when its branching states answer `answers` in order (Tasks
 * with a single `goto`, Waits and approvals take no answer; an SSM loop's answer is the state it resumes
 * at). The tests' expected paths: `flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'auto', 'done', ...])`.
 *
 * @throws when an answer is not routed from the state it is given to, or answers run out before Done
 */
export function flowPath<S extends string>(flow: Flow<S>, answers: readonly string[]): S[] {
  const path: S[] = [];
  let state: S = flow.start;
  const rest = [...answers];
  for (;;) {
    path.push(state);
    const spec: FlowState<S> = flow.states[state];
    if (spec.type === 'succeed') return path;
    let next: string | undefined;
    if (spec.type === 'ssm') {
      const resume = rest.shift();
      next = spec.resume.find((s) => s === resume);
    } else if ((spec.type === 'task' && 'on' in spec) || spec.type === 'choice') {
      const answer = rest.shift();
      if (answer === undefined)
        throw new Error(`flowPath: no answer left for ${state} (path ${path.join(' → ')})`);
      next = routeOf(flow, state, answer);
      if (next === undefined) throw new Error(`flowPath: ${state} does not route '${answer}'`);
    } else next = routeOf(flow, state, '');
    if (next === undefined) throw new Error(`flowPath: ${state} leads nowhere`);
    state = next as S;
  }
}
