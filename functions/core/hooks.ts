/**
 * Recovery hooks (docs/DESIGN.md §5): what a runbook step calls to act on the database servers. Per cluster and
 * action, one of: the built-in hook of the cluster's engine (Redis, PostgreSQL, MySQL/MariaDB), a Lambda
 * function, an HTTPS webhook, or an SSM Automation document.
 */

import type { Engine } from './position';
import type { HookAction } from './runbook';

export type HookSpec =
  | { readonly type: 'builtin' }
  | { readonly type: 'lambda'; readonly functionArn: string }
  /** POST of the HookRequest as JSON; signed with HMAC-SHA256 of the body when `secretArn` is given. */
  | { readonly type: 'https'; readonly url: string; readonly secretArn?: string }
  | {
      readonly type: 'ssm';
      readonly documentName: string;
      readonly parameters?: Readonly<Record<string, string[]>>;
      /** The role the automation runs as: sent as its `AutomationAssumeRole` parameter. */
      readonly assumeRoleArn?: string;
    };

/** Hooks of a cluster by action; an action without an entry uses the built-in hook of the engine. */
export type ClusterHooks = Partial<Record<HookAction, HookSpec>>;

/** How to reach a node: `redis://host:port`, `postgresql://host:port/db`, `mysql://host:port`. */
export interface NodeEndpoint {
  readonly nodeId: string;
  readonly url: string;
}

/** What a hook is asked to do. Credentials never travel in it: hooks read them from their own source. */
export interface HookRequest {
  readonly action: HookAction;
  readonly clusterId: string;
  readonly engine: Engine;
  readonly incidentId: string;
  /** The cluster's fencing token after the fence step; a hook should refuse work for an older epoch. */
  readonly epoch: number;
  /** The node acted on (the old primary for fence, the candidate for promote, a replica for repoint...). */
  readonly target: NodeEndpoint;
  /** For repoint and restartReplication: the primary the target must replicate from. */
  readonly primary?: NodeEndpoint;
}

export type HookResult =
  | { readonly status: 'done'; readonly detail: string }
  /** An SSM Automation execution was started: the state machine awaits it. */
  | { readonly status: 'started'; readonly ssmExecutionId: string; readonly detail: string };

/** A hook that did not do what it was asked (permanent: the runbook fails and pages). */
export class HookFailedError extends Error {
  override readonly name = 'HookFailedError';
}
