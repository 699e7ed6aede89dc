/**
 * What every CLI command shares: the usage error (exit 2 with a one-line reason), durations, and how a
 * command finds its table (a local stack's /info, a DynamoDB endpoint, or a deployed stack's outputs).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { documentClient } from '../functions/adapters/clients';
import { LOCAL_AWS, LOCAL_TABLE_NAME } from './dynamodb-local';

export const DEFAULT_LOCAL_PORT = 8742;
export { LOCAL_TABLE_NAME };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An operator's `--reason` (it is recorded): required, not blank; `command` names the command in the error. */
export function requireReason(reason: string | undefined, command?: string): string {
  if (!reason?.trim())
    throw new UsageError(
      `${command === undefined ? '' : `${command}: `}--reason is required: say why (it is recorded)`,
    );
  return reason;
}

/** `30m`, `2h`, `1d`, `45s` as milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match) throw new UsageError(`--for: '${text}' is not a duration like 30m, 2h or 1d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

export interface Output {
  json: boolean;
  out: (text: string) => void;
}

export async function resolveTable(
  values: { endpoint?: string; table?: string; stack?: string; 'dynamodb-endpoint'?: string },
  env: NodeJS.ProcessEnv,
) {
  if (values.stack) {
    const cfn = new CloudFormationClient({});
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: values.stack }));
    cfn.destroy();
    const tableName = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'TableName')?.OutputValue;
    if (!tableName)
      throw new Error(`stack ${values.stack} has no TableName output: is it a replica-sentinel stack?`);
    return { client: documentClient(), tableName };
  }
  if (values['dynamodb-endpoint']) {
    return {
      client: documentClient({ ...LOCAL_AWS, endpoint: values['dynamodb-endpoint'], maxAttempts: 2 }),
      tableName: values.table ?? LOCAL_TABLE_NAME,
    };
  }
  // A local stack (`local up`) says where its table is.
  const port = env.REPLICA_SENTINEL_LOCAL_PORT ?? String(DEFAULT_LOCAL_PORT);
  const stackUrl = values.endpoint ?? `http://127.0.0.1:${port}`;
  let info: { dynamodbEndpoint?: string; tableName?: string };
  try {
    const response = await fetch(new URL('/info', stackUrl), { signal: AbortSignal.timeout(5000) });
    info = (await response.json()) as typeof info;
  } catch {
    throw new Error(
      `no local stack answers at ${stackUrl} (start one with \`replica-sentinel local up\`, or pass --endpoint / --stack)`,
    );
  }
  if (!info.dynamodbEndpoint || !info.tableName)
    throw new Error(`${stackUrl} is not a replica-sentinel local stack`);
  return {
    client: documentClient({ ...LOCAL_AWS, endpoint: info.dynamodbEndpoint, maxAttempts: 2 }),
    tableName: info.tableName,
  };
}

export const COLORS: Record<string, string> = {
  HEALTHY: '\u001b[32m',
  LAGGING: '\u001b[33m',
  STALLED: '\u001b[31m',
  SILENT: '\u001b[31m',
  DEAD: '\u001b[1;31m',
  FENCED: '\u001b[35m',
  RECOVERING: '\u001b[36m',
  MAINTENANCE: '\u001b[34m',
  SPLIT_BRAIN: '\u001b[1;31m',
  WRONG_SOURCE: '\u001b[31m',
  DATA_LOSS: '\u001b[1;31m',
};

export const age = (ms: number) =>
  ms < 0
    ? '-'
    : ms < 120_000
      ? `${Math.round(ms / 1000)}s`
      : ms < 7_200_000
        ? `${Math.round(ms / 60_000)}m`
        : `${Math.round(ms / 3_600_000)}h`;

/** The parseArgs options of a command that reads the table: where it is (see resolveTable), --json, --help. */
export const TARGET_OPTIONS = {
  endpoint: { type: 'string' },
  'dynamodb-endpoint': { type: 'string' },
  table: { type: 'string' },
  stack: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** The help line that describes TARGET_OPTIONS, its text starting at column `column`. */
export const targetHelp = (column = 14): string =>
  `${'  target'.padEnd(column)}--endpoint URL | --dynamodb-endpoint URL [--table NAME] | --stack NAME (see replica-sentinel --help)`;
