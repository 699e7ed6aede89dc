/**
 * The AWS side of the hooks: invoking a Lambda hook, starting an SSM Automation hook, reading secrets.
 *
 * The Lambda and SSM adapters take the narrow shape of the SDK v3 call they make, so that neither
 * @aws-sdk/client-lambda nor @aws-sdk/client-ssm is a dependency of this module: pass the aggregated client
 * (`new Lambda({})`, `new SSM({})`) or `{ invoke: (input) => client.send(new InvokeCommand(input)) }`.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { HookFailedError, type HookRequest } from '../../core/hooks';
import { type ClientSource, clientOf } from '../clients';
import type { DbCredentials } from './connection';

/** Invokes a Lambda hook with the request and resolves with its decoded answer (`undefined` when empty). */
export type InvokeLambda = (functionArn: string, payload: HookRequest) => Promise<unknown>;
/** Starts an SSM Automation execution and resolves with its execution id. */
export type StartAutomation = (documentName: string, parameters: Record<string, string[]>) => Promise<string>;
/** The text of a Secrets Manager secret. */
export type SecretValue = (secretArn: string) => Promise<string>;
/**
 * What a database login is looked up by: the node (`target`), its engine and its cluster (which may have a
 * secret of its own). A hook request is one: its target is the node acted on.
 */
export type CredentialsLookup = Pick<HookRequest, 'clusterId' | 'engine' | 'target'>;
/** Where built-in hooks, the runbooks' checks and the probes get a node's database login. Never from heartbeats. */
export type CredentialsSource = (lookup: CredentialsLookup) => Promise<DbCredentials | undefined>;

/** The part of the Lambda client an {@link InvokeLambda} needs (SDK v3 `Lambda#invoke`). */
export interface LambdaInvokeApi {
  invoke(input: {
    FunctionName: string;
    InvocationType: 'RequestResponse';
    Payload: Uint8Array;
  }): Promise<{ StatusCode?: number; FunctionError?: string; Payload?: Uint8Array }>;
}

/** The part of the SSM client a {@link StartAutomation} needs (SDK v3 `SSM#startAutomationExecution`). */
export interface SsmAutomationApi {
  startAutomationExecution(input: {
    DocumentName: string;
    Parameters?: Record<string, string[]>;
  }): Promise<{ AutomationExecutionId?: string }>;
}

/**
 * An {@link InvokeLambda} over the Lambda API: a synchronous invoke whose function error (the hook threw)
 * becomes a {@link HookFailedError}; throttling and service errors pass through for the runbook's retry.
 *
 * @example
 * const invokeLambda = lambdaInvoker(new Lambda({})); // import { Lambda } from '@aws-sdk/client-lambda'
 */
export function lambdaInvoker(api: LambdaInvokeApi): InvokeLambda {
  return async (functionArn, payload) => {
    const output = await api.invoke({
      FunctionName: functionArn,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    });
    const text = output.Payload === undefined ? '' : new TextDecoder().decode(output.Payload);
    const answer = parseJson(text);
    if (output.FunctionError !== undefined) {
      const error = answer as { errorType?: unknown; errorMessage?: unknown } | undefined;
      throw new HookFailedError(
        `Lambda hook ${functionArn} failed on ${payload.action} of node ${payload.target.nodeId} ` +
          `(${output.FunctionError}): ${String(error?.errorType ?? 'Error')}: ${String(error?.errorMessage ?? text)}`,
      );
    }
    return answer;
  };
}

/**
 * A {@link StartAutomation} over the SSM API.
 *
 * @example
 * const startAutomation = ssmAutomationStarter(new SSM({})); // import { SSM } from '@aws-sdk/client-ssm'
 */
export function ssmAutomationStarter(api: SsmAutomationApi): StartAutomation {
  return async (documentName, parameters) => {
    const output = await api.startAutomationExecution({ DocumentName: documentName, Parameters: parameters });
    if (output.AutomationExecutionId === undefined) {
      throw new HookFailedError(`SSM started ${documentName} but returned no AutomationExecutionId.`);
    }
    return output.AutomationExecutionId;
  };
}

/** A {@link SecretValue} reading SecretString from Secrets Manager. */
export function secretsManagerSecretValue(client: ClientSource<SecretsManagerClient>): SecretValue {
  return async (secretArn) => {
    const [secrets, { GetSecretValueCommand }] = await Promise.all([
      clientOf(client),
      import('@aws-sdk/client-secrets-manager'),
    ]);
    const output = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (output.SecretString === undefined) {
      throw new HookFailedError(
        `Secret ${secretArn} has no SecretString (binary secrets are not supported).`,
      );
    }
    return output.SecretString;
  };
}

/**
 * Credentials from a JSON secret `{"username": "...", "password": "..."}` (the shape RDS and Secrets
 * Manager rotation use), the secret being chosen per lookup (usually per cluster); `undefined` for a
 * lookup that `secretArnOf` gives no secret.
 *
 * @example
 * // The cluster's own secret (its item's credentialsSecretArn), else the stack-wide one.
 * secretCredentials(secretValue, async (r) => (await clusterSecretArn(r.clusterId)) ?? databaseSecretArn);
 */
export function secretCredentials(
  secretValue: SecretValue,
  secretArnOf: (lookup: CredentialsLookup) => string | undefined | Promise<string | undefined>,
): CredentialsSource {
  return async (lookup) => {
    const arn = await secretArnOf(lookup);
    return arn === undefined ? undefined : readDbCredentials(secretValue, arn);
  };
}

/**
 * The database login in a JSON secret `{"username": "...", "password": "..."}`. Never logs or quotes the
 * secret's value.
 *
 * @throws {@link HookFailedError} when the secret is not a JSON object.
 */
export async function readDbCredentials(secretValue: SecretValue, secretArn: string): Promise<DbCredentials> {
  const parsed = parseJson(await secretValue(secretArn)) as
    | { username?: unknown; password?: unknown }
    | undefined;
  if (typeof parsed !== 'object' || parsed === null) {
    throw new HookFailedError(`Secret ${secretArn} is not a JSON object with username and password.`);
  }
  return {
    ...(typeof parsed.username === 'string' ? { username: parsed.username } : {}),
    ...(typeof parsed.password === 'string' ? { password: parsed.password } : {}),
  };
}

/** A {@link SecretValue} with a cache, and a way to drop a value a server has just refused. */
export interface CachedSecretValue extends SecretValue {
  /**
   * Drops the cached value of `secretArn`, so the next read asks again (a server refused the login it
   * holds: the secret may have been rotated). A value read after such a drop is kept its full `maxAgeMs`
   * even if it is refused too: one re-read per refusal, never a read on every round.
   */
  forget(secretArn: string): void;
}

/**
 * A {@link SecretValue} that keeps each value for `maxAgeMs`, so a function probing every few seconds
 * reads each secret a few times an hour, and a rotated secret is picked up within `maxAgeMs` (at once
 * when the refused login is reported with `forget`). A failed read is not kept.
 */
export function cachedSecretValue(
  secretValue: SecretValue,
  options: { readonly maxAgeMs?: number; readonly now?: () => number } = {},
): CachedSecretValue {
  const maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; value: Promise<string>; reread: boolean }>();
  // Secrets dropped by `forget` whose next read is the re-read.
  const forgotten = new Set<string>();
  const read = (secretArn: string) => {
    const hit = cache.get(secretArn);
    if (hit !== undefined && now() - hit.at < maxAgeMs) return hit.value;
    const value = secretValue(secretArn);
    cache.set(secretArn, { at: now(), value, reread: forgotten.delete(secretArn) });
    value.catch(() => cache.delete(secretArn));
    return value;
  };
  return Object.assign(read, {
    forget(secretArn: string) {
      const hit = cache.get(secretArn);
      if (hit === undefined || hit.reread) return;
      cache.delete(secretArn);
      forgotten.add(secretArn);
    },
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
