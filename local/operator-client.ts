/**
 * The CLI's side of the operator API (functions/core/operator-routes.ts): every mutation goes through it,
 * never through a table write from the operator's machine. Against a deployed stack (`--stack NAME` or
 * `--api-url URL`) the request is signed with SigV4 (the caller's IAM identity is recorded); against a local
 * stack it goes to the stack's HTTP port with the OS user (or `--as NAME`) as who acted.
 */
import { userInfo } from 'node:os';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  type OperationBody,
  type OperationName,
  type OperationParams,
  operationPath,
} from '../functions/core/operator-routes';
import { DEFAULT_LOCAL_PORT, UsageError } from './cli-common';
import { signedPost } from './signed-request';

/** Where the operator API is: a deployed stack, its URL, or a local stack. */
export interface OperatorTarget {
  readonly stack?: string | undefined;
  readonly 'api-url'?: string | undefined;
  readonly endpoint?: string | undefined;
  /** Local stack only: who acts (default: the OS user). */
  readonly as?: string | undefined;
}

/** The parseArgs options of an operator command's target. */
export const OPERATOR_TARGET_OPTIONS = {
  stack: { type: 'string' },
  'api-url': { type: 'string' },
  endpoint: { type: 'string' },
  as: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const withSlash = (url: string) => new URL(url.endsWith('/') ? url : `${url}/`);

/** The deployed stack's operator API URL (its OperatorApiUrl output; ApprovalApiUrl on older stacks). */
async function deployedApiUrl(stack: string): Promise<URL> {
  const cfn = new CloudFormationClient({});
  try {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const outputs = Stacks?.[0]?.Outputs ?? [];
    const url =
      outputs.find((o) => o.OutputKey === 'OperatorApiUrl')?.OutputValue ??
      outputs.find((o) => o.OutputKey === 'ApprovalApiUrl')?.OutputValue;
    if (!url) throw new Error(`stack ${stack} has no OperatorApiUrl output: is it a replica-sentinel stack?`);
    return withSlash(url);
  } finally {
    cfn.destroy();
  }
}

/**
 * Calls one operation; resolves its JSON answer, or throws with the API's one-line refusal
 * (`<operation> refused (HTTP <status>): <reason>`).
 */
export async function callOperation<N extends OperationName>(
  operation: N,
  params: OperationParams<N>,
  body: OperationBody<N>,
  target: OperatorTarget,
  env: NodeJS.ProcessEnv,
): Promise<{ message: string } & Record<string, unknown>> {
  const path = operationPath(operation, params);
  let response: { status: number; body: unknown };
  if (target.stack !== undefined || target['api-url'] !== undefined) {
    if (target.as !== undefined)
      throw new UsageError('--as is for a local stack: a deployed stack records your IAM identity');
    const base = target['api-url'] ? withSlash(target['api-url']) : await deployedApiUrl(target.stack ?? '');
    response = await signedPost(new URL(path, base), body, env);
  } else {
    const local =
      target.endpoint ?? `http://127.0.0.1:${env.REPLICA_SENTINEL_LOCAL_PORT ?? DEFAULT_LOCAL_PORT}`;
    let answer: Response;
    try {
      answer = await fetch(new URL(path, withSlash(local)), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-replica-sentinel-user': target.as ?? userInfo().username,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      throw new Error(
        `no local stack answers at ${local} (start one with \`replica-sentinel local up\`, or pass --endpoint / --stack)`,
      );
    }
    const text = await answer.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    response = { status: answer.status, body: parsed };
  }
  const answer = response.body as { message?: string } & Record<string, unknown>;
  if (response.status !== 200) {
    const text = `${operation} refused (HTTP ${response.status}): ${answer?.message ?? JSON.stringify(response.body)}`;
    // A request the API refused (bad input, a rule said no): exit 2 with the one line, nothing changed.
    if (response.status >= 400 && response.status < 500) throw new UsageError(text);
    throw new Error(text);
  }
  return { ...answer, message: String(answer?.message ?? operation) };
}
