/**
 * Runs recovery hooks (docs/DESIGN.md §5): the cluster's HookSpec for an action picks a built-in hook of the
 * engine, a Lambda function, an HTTPS webhook or an SSM Automation document. Also the two checks the
 * runbooks' verify steps make on the servers: is the promoted node primary, has a replica moved on.
 *
 * @example
 * const hooks = createHookRunner({
 *   credentials: secretCredentials(secretsManagerSecretValue(secrets), (r) => secretArnOfCluster(r.clusterId)),
 *   secretValue: secretsManagerSecretValue(secrets),
 *   invokeLambda: lambdaInvoker(new Lambda({})),
 *   startAutomation: ssmAutomationStarter(new SSM({})),
 * });
 * const result = await hooks.run(request, cluster.hooks?.[request.action]);
 */
import {
  HookFailedError,
  type HookRequest,
  type HookResult,
  type HookSpec,
  type NodeEndpoint,
} from '../../core/hooks';
import type { Engine } from '../../core/position';
import { HOOK_ACTIONS, NotYetPrimaryError } from '../../core/runbook';
import { TransientError } from '../errors';
import type { CredentialsSource, InvokeLambda, SecretValue, StartAutomation } from './aws';
import {
  type BuiltinHooks,
  type DbCredentials,
  errorMessage,
  noBuiltinFenceUnreachable,
  urlCredentials,
} from './connection';
import { DEFAULT_HTTPS_TIMEOUT_MS, runHttpsHook } from './https';
import { mariadbHooks, mysqlHooks } from './mysql';
import { postgresqlHooks } from './postgresql';
import { redisHooks } from './redis';

export * from './aws';
export { type DbCredentials, NodeUnreachableError, urlCredentials } from './connection';
export { SIGNATURE_HEADER, signBody } from './https';

export interface HookRunner {
  /**
   * Runs `request.action` on `request.target` with the hook `spec` (no spec: the engine's built-in hook).
   *
   * @throws {@link HookFailedError} when the hook did not do what it was asked (permanent), or when it
   *   cannot run: no built-in hook for the engine, no invoker configured for the spec's type.
   * @throws {@link NodeUnreachableError} (a TransientError) when a built-in hook cannot reach its node,
   *   except for fence, where a dead old primary is the expected case and the result says so.
   */
  run(request: HookRequest, spec: HookSpec | undefined): Promise<HookResult>;
}

export interface HookRunnerDeps {
  /** The database login of built-in hooks: Secrets Manager in AWS, {@link localCredentials} locally. */
  readonly credentials: CredentialsSource;
  /** Needed by `lambda` hooks. */
  readonly invokeLambda?: InvokeLambda;
  /** Needed by `https` hooks with a `secretArn`. */
  readonly secretValue?: SecretValue;
  /** Needed by `ssm` hooks. */
  readonly startAutomation?: StartAutomation;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 10000 */
  readonly httpsTimeoutMs?: number;
}

const BUILTIN: Partial<Record<Engine, BuiltinHooks>> = {
  redis: redisHooks,
  postgresql: postgresqlHooks,
  mysql: mysqlHooks,
  mariadb: mariadbHooks,
};

/** Local mode: the login in the target's URL userinfo (`postgresql://postgres@127.0.0.1:5432/app`). */
export const localCredentials: CredentialsSource = async (lookup) => urlCredentials(lookup.target);

export function createHookRunner(deps: HookRunnerDeps): HookRunner {
  async function builtin(request: HookRequest): Promise<HookResult> {
    const hooks = builtinFor(request.engine, `${request.action} hook`);
    // The request is the lookup: the login for its target, in its cluster.
    const creds = await deps.credentials(request);
    try {
      return await hooks.run(request, creds);
    } catch (error) {
      if (error instanceof HookFailedError || error instanceof TransientError) throw error;
      throw new HookFailedError(
        `The built-in ${request.engine} ${request.action} hook failed on node ${request.target.nodeId}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  async function lambda(request: HookRequest, functionArn: string): Promise<HookResult> {
    const invoke = required(deps.invokeLambda, 'lambda', request);
    const answer = await invoke(functionArn, request);
    const detail = (answer as { detail?: unknown } | undefined)?.detail;
    return {
      status: 'done',
      detail:
        typeof detail === 'string' && detail !== ''
          ? detail
          : `Lambda hook ${functionArn} did ${request.action} of node ${request.target.nodeId}.`,
    };
  }

  async function https(
    request: HookRequest,
    url: string,
    secretArn: string | undefined,
  ): Promise<HookResult> {
    const secret =
      secretArn === undefined
        ? undefined
        : await required(deps.secretValue, 'signed https', request)(secretArn);
    return runHttpsHook(request, {
      url,
      secret,
      timeoutMs: deps.httpsTimeoutMs ?? DEFAULT_HTTPS_TIMEOUT_MS,
      fetch: deps.fetch ?? globalThis.fetch,
    });
  }

  async function ssm(
    request: HookRequest,
    documentName: string,
    parameters: Readonly<Record<string, string[]>>,
    assumeRoleArn: string | undefined,
  ): Promise<HookResult> {
    const start = required(deps.startAutomation, 'ssm', request);
    const filled = automationParameters(parameters, request);
    // Without a role the automation runs with runbook-steps' own role, which may do nothing useful.
    if (assumeRoleArn !== undefined) filled.AutomationAssumeRole = [assumeRoleArn];
    const executionId = await start(documentName, filled);
    return {
      status: 'started',
      ssmExecutionId: executionId,
      detail: `Started SSM Automation ${documentName} (execution ${executionId}) for ${request.action} of node ${request.target.nodeId}.`,
    };
  }

  return {
    async run(request, spec) {
      if (!(HOOK_ACTIONS as readonly string[]).includes(request.action)) {
        throw new HookFailedError(`Unknown hook action ${JSON.stringify(request.action)}.`);
      }
      // Checked before any engine lookup, so that the message is the same for every engine.
      if (request.action === 'fenceUnreachable' && (spec === undefined || spec.type === 'builtin')) {
        throw new HookFailedError(noBuiltinFenceUnreachable(request));
      }
      if (spec === undefined) return builtin(request);
      switch (spec.type) {
        case 'builtin':
          return builtin(request);
        case 'lambda':
          return lambda(request, spec.functionArn);
        case 'https':
          return https(request, spec.url, spec.secretArn);
        case 'ssm':
          return ssm(request, spec.documentName, spec.parameters ?? {}, spec.assumeRoleArn);
        default:
          // Specs come from stored cluster configuration: say what was there rather than fail obscurely.
          throw new HookFailedError(
            `Cluster ${request.clusterId} has a ${request.action} hook of unknown type ${JSON.stringify((spec as { type?: unknown }).type)}.`,
          );
      }
    },
  };
}

function required<T>(dependency: T | undefined, type: string, request: HookRequest): T {
  if (dependency === undefined) {
    throw new HookFailedError(
      `Cluster ${request.clusterId} has a ${type} hook for ${request.action}, but this runner was created ` +
        `without what ${type} hooks need (see HookRunnerDeps).`,
    );
  }
  return dependency;
}

function builtinFor(engine: Engine, what: string): BuiltinHooks {
  const hooks = BUILTIN[engine];
  if (hooks === undefined) {
    throw new HookFailedError(
      `There is no built-in ${what} for ${engine} (built in: ${Object.keys(BUILTIN).join(', ')}). ` +
        'Configure a lambda, ssm or https hook for it.',
    );
  }
  return hooks;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z.]+)\s*\}\}/g;

/**
 * The SSM document's parameters, with placeholders filled from the request so one document serves every
 * node: `{{action}}`, `{{clusterId}}`, `{{engine}}`, `{{incidentId}}`, `{{epoch}}`, `{{target.nodeId}}`,
 * `{{target.url}}`, `{{primary.nodeId}}`, `{{primary.url}}` (URLs without userinfo).
 *
 * @throws {@link HookFailedError} on an unknown placeholder, or `primary.*` in a request without a primary.
 */
export function automationParameters(
  parameters: Readonly<Record<string, readonly string[]>>,
  request: HookRequest,
): Record<string, string[]> {
  const values: Record<string, string | undefined> = {
    action: request.action,
    clusterId: request.clusterId,
    engine: request.engine,
    incidentId: request.incidentId,
    epoch: String(request.epoch),
    'target.nodeId': request.target.nodeId,
    'target.url': withoutUserinfo(request.target.url),
    'primary.nodeId': request.primary?.nodeId,
    'primary.url': request.primary === undefined ? undefined : withoutUserinfo(request.primary.url),
  };
  const filled: Record<string, string[]> = {};
  for (const [name, list] of Object.entries(parameters)) {
    filled[name] = list.map((value) =>
      value.replace(PLACEHOLDER, (_match, key: string) => {
        const replacement = values[key];
        if (replacement === undefined) {
          throw new HookFailedError(
            `SSM hook parameter ${name} uses {{${key}}}, which ${key in values ? `a ${request.action} request does not have` : 'is not a known placeholder'}.`,
          );
        }
        return replacement;
      }),
    );
  }
  return filled;
}

function withoutUserinfo(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Resolves when the node is a primary that commits writes now: its role and read-only settings say so,
 * and a write round-trip completes within VERIFY_WRITE_TIMEOUT_MS (3 s). Redis: ROLE master, then SET
 * `replica-sentinel:verify` to a fresh value (expiring in an hour) and GET it back, so a master whose
 * writes are paused (CLIENT PAUSE WRITE) or refused (min-replicas-to-write) fails. PostgreSQL: out of
 * recovery, default_transaction_read_only off, then a one-row upsert into `replica_sentinel_verify`
 * (created if absent) committed and read back. MySQL/MariaDB: no replication thread running, read_only
 * off (and super_read_only on MySQL), then the same upsert into `replica_sentinel.verify`. The role
 * checks come first because an account with SUPER or READ_ONLY ADMIN writes through read_only; the
 * write proves commits complete (a wait for an absent synchronous or semi-sync replica times out). The
 * login needs the rights to that write.
 *
 * @throws {@link NotYetPrimaryError} otherwise, and when the node cannot be reached or logged in to
 *   (the Verify state retries it).
 * @throws {@link HookFailedError} when the engine has no built-in check.
 */
export async function verifyPrimary(
  engine: Engine,
  endpoint: NodeEndpoint,
  creds: DbCredentials | undefined,
): Promise<void> {
  const hooks = builtinFor(engine, 'primary check');
  try {
    await hooks.verifyPrimary(endpoint, creds);
  } catch (error) {
    if (error instanceof NotYetPrimaryError) throw error;
    throw new NotYetPrimaryError(`Node ${endpoint.nodeId} cannot be checked yet: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/**
 * The node's applied position, as a wire string of the engine (core/position.ts): Redis
 * `<master_replid>:<offset>`; PostgreSQL the replayed LSN `X/Y` (the current LSN on a primary); MariaDB
 * `gtid_slave_pos` (`gtid_binlog_pos` on a primary); MySQL `gtid_executed`; a binlog coordinate
 * `file.NNNNNN:offset` when there are no GTIDs.
 *
 * @throws {@link NodeUnreachableError} when the node does not answer.
 * @throws {@link HookFailedError} when it answers without a position, or has no built-in check.
 */
export async function replicationProgress(
  engine: Engine,
  endpoint: NodeEndpoint,
  creds: DbCredentials | undefined,
): Promise<string> {
  return builtinFor(engine, 'replication progress check').replicationProgress(endpoint, creds);
}
