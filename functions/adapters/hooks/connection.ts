/**
 * What the built-in hooks share: endpoint URLs, credentials, connect timeouts, and telling "the node is
 * not there" (a dead node, fenced by the epoch) apart from "the node is there and refused" (a failure).
 */
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { HookFailedError, type HookRequest, type HookResult, type NodeEndpoint } from '../../core/hooks';
import type { Engine } from '../../core/position';
import type { HookAction } from '../../core/runbook';
import { TransientError } from '../errors';

/** A database login for a built-in hook: from Secrets Manager in AWS, from the URL's userinfo locally. */
export interface DbCredentials {
  readonly username?: string;
  readonly password?: string;
}

/** The port of a node whose URL names none, by engine. */
export const DEFAULT_PORTS = {
  redis: 6379,
  postgresql: 5432,
  mysql: 3306,
  mariadb: 3306,
} as const satisfies Partial<Record<Engine, number>>;

/** Connect timeout of every built-in hook connection: a hook on a dead node must fail fast. */
export const CONNECT_TIMEOUT_MS = 2_500;
/** Longest wait for one statement of a hook (pg_promote waits up to 60 s on its own and has its own). */
export const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * How long verifyPrimary waits for its write round-trip on the new primary. A node whose writes are
 * paused (Redis CLIENT PAUSE WRITE), or that waits for a synchronous replica it does not have, answers
 * reads at once and never acknowledges the write: it times out here and is not yet a primary.
 */
export const VERIFY_WRITE_TIMEOUT_MS = 3_000;

/**
 * Settles as `work` does, or rejects with `timedOut()` after `ms`, first calling `abandon` (drop the
 * connection the work is stuck on). A rejection of `work` after the deadline is swallowed.
 */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  timedOut: () => Error,
  abandon?: () => void,
): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abandon?.();
      reject(timedOut());
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** A value no earlier verify wrote: reading it back proves this write, not an old one, was applied. */
export function verifyToken(): string {
  return `${new Date().toISOString()} ${randomUUID()}`;
}

/** Host and port of a node, parsed from its endpoint URL. `label` is safe for messages (no userinfo). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** The path of the URL without its slash (`postgresql://h:5432/app` → `app`), when there is one. */
  readonly database: string | undefined;
  /** `nodeId (host:port)`, for details and errors. */
  readonly label: string;
}

const URL_SCHEMES: Readonly<Record<string, readonly string[]>> = {
  redis: ['redis:', 'rediss:'],
  postgresql: ['postgresql:', 'postgres:'],
  mysql: ['mysql:', 'mariadb:'],
  mariadb: ['mysql:', 'mariadb:'],
};

/**
 * Parses a node's endpoint URL (`redis://[user:pass@]host:port`, `postgresql://[user:pass@]host:port/db`,
 * `mysql://[user:pass@]host:port`).
 *
 * @throws {@link HookFailedError} when the URL does not parse, has the wrong scheme or no host.
 */
export function parseEndpoint(engine: Engine, endpoint: NodeEndpoint, defaultPort: number): HostPort {
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch {
    // No cause: the URL error quotes its input, which may hold a password.
    throw new HookFailedError(`Node ${endpoint.nodeId} has an endpoint that is not a URL.`);
  }
  const schemes = URL_SCHEMES[engine] ?? [];
  if (!schemes.includes(url.protocol)) {
    throw new HookFailedError(
      `Node ${endpoint.nodeId} has a ${url.protocol}// endpoint; a ${engine} node needs ${schemes.join(' or ')}//.`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new HookFailedError(`Node ${endpoint.nodeId} has an endpoint without a host.`);
  const port = url.port === '' ? defaultPort : Number(url.port);
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host,
    port,
    database: path === '' ? undefined : path,
    label: `${endpoint.nodeId} (${host.includes(':') ? `[${host}]` : host}:${port})`,
  };
}

/**
 * The userinfo of a node's URL as credentials (local mode: `postgresql://postgres@127.0.0.1:5432/app`).
 * In AWS the credentials come from Secrets Manager and endpoint URLs carry none.
 */
export function urlCredentials(endpoint: NodeEndpoint): DbCredentials | undefined {
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch {
    return undefined;
  }
  if (url.username === '' && url.password === '') return undefined;
  return {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
  };
}

/**
 * A node did not accept a TCP connection (refused, timed out, no route, name not found). Thrown by
 * replicationProgress and by every hook but fence (for which a dead old primary is the normal case).
 *
 * It keeps the name `TransientError` on purpose: the state machines retry errors by name, and a node that
 * is briefly unreachable during a failover is worth a retry. Narrow it with `instanceof`.
 */
export class NodeUnreachableError extends TransientError {
  /** Why: `ECONNREFUSED`, `ETIMEDOUT`, `ENOTFOUND`, `no answer in 2500 ms`... */
  readonly reason: string;

  constructor(node: HostPort, reason: string, options?: { cause?: unknown }) {
    super(`Node ${node.label} is unreachable: ${reason}.`, options);
    this.reason = reason;
  }
}

/**
 * Whether anything accepts a TCP connection on host:port within the connect timeout. Tells a dead node
 * (fenced by the epoch, nothing to do) from a live one whose login or statements fail (must not be
 * reported as fenced).
 *
 * @returns `undefined` when the port answered, or the reason it did not (`ECONNREFUSED`, `timeout`...).
 */
export function tcpUnreachableReason(
  host: string,
  port: number,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer in ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    socket.connect(port, host, () => finish(undefined));
  });
}

/**
 * Opens a connection with `connect`; when that fails, says why in terms the runbook can act on:
 * {@link NodeUnreachableError} when nothing answers on the node's port (dead, or not there yet), else
 * {@link HookFailedError} (the node is up and refused: wrong credentials, too many clients...).
 */
export async function connectOrClassify<C>(node: HostPort, connect: () => Promise<C>): Promise<C> {
  try {
    return await connect();
  } catch (error) {
    const reason = await tcpUnreachableReason(node.host, node.port);
    if (reason !== undefined) throw new NodeUnreachableError(node, reason, { cause: error });
    const message = `Node ${node.label} answers but the connection failed: ${errorMessage(error)}`;
    throw new HookFailedError(message, { cause: error });
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One engine's built-in hooks. `run` acts on `request.target` (each action idempotent) and returns what it
 * did; `verifyPrimary` and `replicationProgress` back the runbooks' verify steps.
 */
export type ActionHandler = (request: HookRequest, creds: DbCredentials | undefined) => Promise<HookResult>;

/**
 * Why no engine has a built-in fenceUnreachable: fencing a node the runbook cannot reach acts on its
 * infrastructure (stop the instance, cut its security group), never through the database connection.
 */
export function noBuiltinFenceUnreachable(request: Pick<HookRequest, 'clusterId' | 'target'>): string {
  return (
    `There is no built-in fenceUnreachable hook (cluster ${request.clusterId}, node ${request.target.nodeId}): ` +
    'fencing a node the runbook cannot reach takes its infrastructure (stop the instance, cut its security ' +
    'group), not a database connection. Configure hooks.fenceUnreachable as a lambda, ssm or https hook.'
  );
}

/**
 * A built-in hook's `run`: the engine's handler for each action, and why it has no rebuild (rebuilding a
 * node needs tooling on its host, so it is always a lambda, ssm or https hook). No engine has a built-in
 * fenceUnreachable either ({@link noBuiltinFenceUnreachable}).
 */
export function dispatchBuiltin(
  handlers: Readonly<Record<Exclude<HookAction, 'rebuild' | 'fenceUnreachable'>, ActionHandler>>,
  noRebuild: string,
): ActionHandler {
  return async (request, creds) => {
    if (request.action === 'rebuild') throw new HookFailedError(noRebuild);
    if (request.action === 'fenceUnreachable') throw new HookFailedError(noBuiltinFenceUnreachable(request));
    return handlers[request.action](request, creds);
  };
}

export interface BuiltinHooks {
  readonly engine: Engine;
  run(request: HookRequest, creds: DbCredentials | undefined): Promise<HookResult>;
  verifyPrimary(endpoint: NodeEndpoint, creds: DbCredentials | undefined): Promise<void>;
  replicationProgress(endpoint: NodeEndpoint, creds: DbCredentials | undefined): Promise<string>;
}

/** The result of fencing a node that does not answer: it is dead, and the epoch fences it. */
export function fencedByEpoch(request: HookRequest, node: HostPort, reason: string): HookResult {
  return {
    status: 'done',
    detail:
      `Old primary ${node.label} is unreachable (${reason}): treated as dead, nothing to demote; it is ` +
      `fenced by epoch ${request.epoch} (if it comes back it must be demoted before it serves again).`,
  };
}

/** The primary a repoint or restartReplication must replicate from; the request must carry it. */
export function requirePrimary(request: HookRequest): NodeEndpoint {
  if (request.primary === undefined) {
    throw new HookFailedError(
      `The ${request.engine} ${request.action} hook for node ${request.target.nodeId} needs request.primary ` +
        '(the node to replicate from); the runbook must pass the new primary.',
    );
  }
  if (request.primary.nodeId === request.target.nodeId) {
    throw new HookFailedError(
      `The ${request.engine} ${request.action} hook was asked to make node ${request.target.nodeId} ` +
        'replicate from itself.',
    );
  }
  return request.primary;
}
