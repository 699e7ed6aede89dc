/**
 * The runbook-steps contracts: what the steps are built from (StepDeps), what one Task invocation brings
 * (StepInput), and the shape of the steps by action (RunbookSteps) that the step groups fill.
 */
import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { RecoveryHooks } from '../adapters/recovery-hooks';
import type { RecoveryStore } from '../adapters/recovery-store';
import type { RunbookAction, RunbookState, StepResult } from '../core/runbook';

export interface StepDeps {
  readonly recovery: Pick<
    RecoveryStore,
    | 'getCluster'
    | 'takeLock'
    | 'releaseLock'
    | 'bumpEpoch'
    | 'setPrimary'
    | 'recordEpoch'
    | 'recordStep'
    | 'setPlan'
    | 'getIncident'
    | 'findIncident'
  >;
  readonly nodes: Pick<NodeStateStore, 'loadCluster' | 'putNode'>;
  readonly hooks: RecoveryHooks;
  readonly notifier: Notifier;
  readonly logger: Log;
  readonly clock: () => number;
  /** Seconds between restarting a replica and checking its progress. @default 30 */
  readonly verifyAfterSeconds?: number;
}

export interface StepInput {
  readonly action: RunbookAction;
  readonly state: RunbookState;
  readonly taskToken?: string;
}

/**
 * Every Task step of the runbooks, by action: the run's state (and, for requestApproval, the task token) in,
 * the state with `next` set for the state machine's Choice out. The step groups each fill some of it.
 */
export type RunbookSteps = {
  [A in RunbookAction]: (
    state: RunbookState,
    taskToken?: string,
  ) => Promise<A extends 'requestApproval' ? RunbookState : StepResult<A>>;
};
