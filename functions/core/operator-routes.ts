import * as z from 'zod';

/**
 * The operator API as one typed table (docs/DESIGN.md §5): each operation's HTTP method, path pattern
 * (`{name}` segments are path parameters), body schema and one-line summary. Everything else derives from
 * it: the API Gateway resources and methods (infra/constructs/operator-api.ts), the operator function's
 * dispatch (functions/operator/handler.ts), the local stack's HTTP routing (local/local-stack.ts) and the
 * CLI's requests (local/operator-client.ts). Adding an operation is one entry here plus its implementation
 * in functions/operator/operations.ts (the `Operations` type makes a missing one a compile error).
 */

/** A reason that is recorded with the action: required, one line, at most 500 characters. */
export const RequiredReason = z
  .string({ error: 'a reason is required: say why (it is recorded)' })
  .trim()
  .min(1, 'a reason is required: say why (it is recorded)')
  .max(500, 'the reason must be at most 500 characters')
  .refine((text) => !/[\r\n]/.test(text), 'the reason must be one line');

const DecisionBody = z.strictObject({ reason: RequiredReason.optional() });
const ReasonBody = z.strictObject({ reason: RequiredReason });
const UnlockBody = z.strictObject({ reason: RequiredReason, force: z.boolean().optional() });

const NodeId = z.string().trim().min(1, 'a node id is required').max(200);

const SwitchoverBody = z.strictObject({
  reason: RequiredReason,
  /** The replica to promote; absent: the most advanced eligible replica. */
  to: NodeId.optional(),
  /** Plan only: record what would be done, touch nothing. */
  dryRun: z.boolean().optional(),
});

const FailoverBody = z.strictObject({
  reason: RequiredReason,
  /** The replica to promote; absent: the runbook's choice (the most advanced eligible replica). */
  to: NodeId.optional(),
  /** Promote even a candidate the data-at-risk gates refuse, and ignore the cooldown; fencing still holds. */
  force: z.boolean().optional(),
  /** Plan only: answer what the runbook would do now, write nothing. */
  dryRun: z.boolean().optional(),
});

/** One operation of the operator API. */
export interface OperatorRoute<Path extends string = string, Body extends z.ZodType = z.ZodType> {
  readonly method: 'POST';
  /** Absolute path under the stage, e.g. `/clusters/{clusterId}/pause`. */
  readonly path: Path;
  readonly body: Body;
  readonly summary: string;
}

const route = <Path extends string, Body extends z.ZodType>(
  path: Path,
  body: Body,
  summary: string,
): OperatorRoute<Path, Body> => ({ method: 'POST', path, body, summary });

export const OPERATOR_ROUTES = {
  approve: route(
    '/incidents/{clusterId}/{incidentId}/approve',
    DecisionBody,
    'approve the runbook waiting for a decision on the incident',
  ),
  reject: route(
    '/incidents/{clusterId}/{incidentId}/reject',
    DecisionBody,
    'reject the runbook waiting for a decision on the incident (it touches nothing)',
  ),
  ack: route(
    '/incidents/{clusterId}/{incidentId}/ack',
    ReasonBody,
    'close an open, refused or FAILED incident as acknowledged (clears a DATA_LOSS hold)',
  ),
  // Routes under one resource stay together: API Gateway builds the resource tree in this order.
  recover: route(
    '/incidents/{clusterId}/{incidentId}/recover',
    ReasonBody,
    "re-run a FAILED or stuck incident's runbook from its start with fresh evidence (a half-done failover finishes)",
  ),
  unlock: route(
    '/clusters/{clusterId}/unlock',
    UnlockBody,
    "release the cluster's recovery lock (force: stop the holder's runbook first)",
  ),
  pause: route(
    '/clusters/{clusterId}/pause',
    ReasonBody,
    'automation off: detection, incidents and notifications go on, runbooks wait',
  ),
  resume: route(
    '/clusters/{clusterId}/resume',
    ReasonBody,
    'automation on again: waiting runbooks go on with fresh evidence',
  ),
  switchover: route(
    '/clusters/{clusterId}/switchover',
    SwitchoverBody,
    'move the primary role to a replica with no acknowledged write lost (the primary-switchover runbook)',
  ),
  failover: route(
    '/clusters/{clusterId}/failover',
    FailoverBody,
    "fail a DEAD primary over now, in any mode, as the operator's decision (force: past the data-at-risk gates; fencing always holds)",
  ),
  rejoin: route(
    '/clusters/{clusterId}/nodes/{nodeId}/rejoin',
    ReasonBody,
    'put a node back under the primary: demote a node reporting primary, repoint a replica (replica-recovery)',
  ),
  rebuild: route(
    '/clusters/{clusterId}/nodes/{nodeId}/rebuild',
    ReasonBody,
    "run the cluster's rebuild hook on a node, then wait until it replicates from the primary (replica-recovery)",
  ),
} as const satisfies Record<string, OperatorRoute>;

export type OperationName = keyof typeof OPERATOR_ROUTES;

/**
 * The one route outside the table: Slack's interactive buttons post here unsigned by AWS (the function
 * verifies Slack's signature), so it has no IAM authorization.
 */
export const SLACK_ACTIONS_PATH = '/slack/actions';

/** The `{name}` parameters of a path pattern, as a union of names. */
type ParamNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

export type PathParams<Path extends string> = { readonly [Name in ParamNames<Path>]: string };

export type OperationParams<N extends OperationName> = PathParams<(typeof OPERATOR_ROUTES)[N]['path']>;
export type OperationBody<N extends OperationName> = z.infer<(typeof OPERATOR_ROUTES)[N]['body']>;

/** Who calls: the IAM caller's ARN, the local OS user (or `--as`), or a Slack user id. */
export interface Caller {
  readonly id: string;
  readonly via: 'iam' | 'local' | 'slack';
}

export interface OperationRequest<N extends OperationName> {
  readonly params: OperationParams<N>;
  readonly body: OperationBody<N>;
  readonly caller: Caller;
}

/** What every operation answers: JSON with a one-line `message` (what the CLI prints). */
export type OperationResult = { readonly message: string } & Record<string, unknown>;

/** One implementation per route. */
export type Operations = {
  readonly [N in OperationName]: (request: OperationRequest<N>) => Promise<OperationResult>;
};

/** A refusal with its HTTP status and a one-line reason. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409 | 410,
  ) {
    super(message);
  }
}

const segments = (path: string) => path.split('/').filter((s) => s !== '');
const paramName = (segment: string) => /^\{(.+)\}$/.exec(segment)?.[1];

/** The operation a request is for, and its path parameters (decoded); undefined when no route matches. */
export function matchRoute(
  method: string,
  path: string,
): { operation: OperationName; params: Record<string, string> } | undefined {
  const given = segments(path);
  for (const [operation, r] of Object.entries(OPERATOR_ROUTES) as [OperationName, OperatorRoute][]) {
    if (r.method !== method) continue;
    const pattern = segments(r.path);
    if (pattern.length !== given.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((segment, i) => {
      const name = paramName(segment);
      const value = given[i] ?? '';
      if (name === undefined) return segment === value;
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        return false;
      }
      return params[name] !== '';
    });
    if (matches) return { operation, params };
  }
  return undefined;
}

/** The path of an operation with its parameters filled in (URI-encoded), relative: no leading slash. */
export function operationPath<N extends OperationName>(operation: N, params: OperationParams<N>): string {
  return segments(OPERATOR_ROUTES[operation].path)
    .map((segment) => {
      const name = paramName(segment);
      return name === undefined
        ? segment
        : encodeURIComponent((params as Record<string, string>)[name] ?? '');
    })
    .join('/');
}

/**
 * Validates an operation's path parameters and JSON body and calls its implementation with the caller.
 * A body that is not JSON or breaks the route's schema is refused with 400 and the first problem.
 */
export async function dispatch(
  operations: Operations,
  operation: OperationName,
  params: Record<string, string>,
  rawBody: string | undefined,
  caller: Caller,
): Promise<OperationResult> {
  const r: OperatorRoute = OPERATOR_ROUTES[operation];
  for (const segment of segments(r.path)) {
    const name = paramName(segment);
    if (name !== undefined && !params[name]) throw new OperatorError(`missing path parameter ${name}`, 400);
  }
  let json: unknown = {};
  if (rawBody !== undefined && rawBody.trim() !== '') {
    try {
      json = JSON.parse(rawBody);
    } catch {
      throw new OperatorError('the body must be a JSON object', 400);
    }
  }
  const parsed = r.body.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new OperatorError(`${operation}: ${where}${issue?.message ?? 'invalid body'}`, 400);
  }
  const implementation = operations[operation] as (request: {
    params: Record<string, string>;
    body: unknown;
    caller: Caller;
  }) => Promise<OperationResult>;
  return implementation({ params, body: parsed.data, caller });
}
