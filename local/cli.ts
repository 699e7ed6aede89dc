/**
 * `replica-sentinel`, the operator's CLI (DESIGN.md §7). This version has `maintenance set|clear`; local
 * mode's commands join it later. Exit 0 on success; 2 with a one-line reason on stderr on bad usage or
 * any error; `--json` prints one JSON document on stdout.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { documentClient } from '../functions/adapters/clients';
import { MaintenanceService } from '../functions/adapters/maintenance';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { LOCAL_AWS } from './dynamodb-local';
import { signedPost } from './signed-request';

export const DEFAULT_LOCAL_PORT = 8742;
export const LOCAL_TABLE_NAME = 'replica-sentinel';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const HELP: Record<string, string> = {
  main: `replica-sentinel — replication health monitoring

Usage: replica-sentinel <command> [options]

Commands:
  maintenance set     mute a cluster or a node until a time (no incident, no recovery)
  maintenance clear   end a maintenance window early
  approve ID          approve the recovery runbook waiting on incident ID
  reject ID           reject it (nothing is touched)

Target (every command):
  --endpoint URL      DynamoDB endpoint of a local stack (default: 127.0.0.1 at $REPLICA_SENTINEL_LOCAL_PORT, else ${DEFAULT_LOCAL_PORT})
  --table NAME        table of the local stack (default: ${LOCAL_TABLE_NAME})
  --stack NAME        a deployed stack instead (its TableName output; AWS credentials and region from the environment)
  --json              one JSON document on stdout
  --help              this help, or a command's`,
  'maintenance set': `Usage: replica-sentinel maintenance set --cluster ID [--node ID] (--for DURATION | --until TIME) --reason TEXT [--by NAME]

Mutes a cluster (all its nodes) or one node: no incident opens and no recovery starts until the window ends.
Recorded in the cluster's maintenance log with who and why.

  --cluster ID      the cluster
  --node ID         one node only (it shows as MAINTENANCE)
  --for DURATION    e.g. 30m, 2h, 1d (at most 30 days)
  --until TIME      an ISO-8601 time, e.g. 2026-11-25T06:00:00Z
  --reason TEXT     why (required)
  --by NAME         who (default: your user name)`,
  approve: `Usage: replica-sentinel approve INCIDENT_ID --cluster ID (--stack NAME | --api-url URL) [--reason TEXT] [--json]

Approves the runbook waiting for approval on the incident. The call goes to the stack's approval API,
signed with your AWS credentials (IAM): your identity is recorded as the approver.`,
  reject: `Usage: replica-sentinel reject INCIDENT_ID --cluster ID (--stack NAME | --api-url URL) [--reason TEXT] [--json]

Rejects the runbook waiting for approval on the incident: it stops and touches nothing.`,
  'maintenance clear': `Usage: replica-sentinel maintenance clear --cluster ID [--node ID] --reason TEXT [--by NAME]

Ends a maintenance window early. A node is judged again at its next heartbeat.`,
};

/** `30m`, `2h`, `1d`, `45s` as milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match) throw new UsageError(`--for: '${text}' is not a duration like 30m, 2h or 1d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

interface Output {
  json: boolean;
  out: (text: string) => void;
}

async function resolveTable(
  values: { endpoint?: string; table?: string; stack?: string },
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
  const port = env.REPLICA_SENTINEL_LOCAL_PORT ?? String(DEFAULT_LOCAL_PORT);
  const endpoint = values.endpoint ?? `http://127.0.0.1:${port}`;
  return {
    client: documentClient({ ...LOCAL_AWS, endpoint, maxAttempts: 2 }),
    tableName: values.table ?? LOCAL_TABLE_NAME,
  };
}

async function maintenance(
  action: string | undefined,
  args: string[],
  env: NodeJS.ProcessEnv,
  io: Output,
  now: number,
) {
  if (action !== 'set' && action !== 'clear')
    throw new UsageError(`maintenance: expected 'set' or 'clear', got '${action ?? ''}'`);
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      cluster: { type: 'string' },
      node: { type: 'string' },
      for: { type: 'string' },
      until: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      stack: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(HELP[`maintenance ${action}`] ?? '');
    return;
  }
  io.json = values.json ?? false;
  if (!values.cluster) throw new UsageError('--cluster is required');
  if (!values.reason) throw new UsageError('--reason is required: say why (it is recorded)');
  const by = values.by ?? userInfo().username;
  const target = { clusterId: values.cluster, ...(values.node ? { nodeId: values.node } : {}) };
  const { client, tableName } = await resolveTable(values, env);
  try {
    const service = new MaintenanceService(client, tableName, new DynamoNodeStateStore(client, tableName));
    if (action === 'set') {
      if ((values.for === undefined) === (values.until === undefined))
        throw new UsageError('give exactly one of --for or --until');
      const until =
        values.for !== undefined ? now + parseDuration(values.for) : Date.parse(values.until ?? '');
      if (Number.isNaN(until)) throw new UsageError(`--until: '${values.until}' is not an ISO-8601 time`);
      await service.set(target, { until, by, reason: values.reason }, now);
      const result = { action, ...target, until: new Date(until).toISOString(), by, reason: values.reason };
      io.out(
        io.json
          ? JSON.stringify(result)
          : `maintenance set on ${values.node ? `${values.cluster}/${values.node}` : values.cluster} until ${result.until} (by ${by}: ${values.reason})`,
      );
    } else {
      await service.clear(target, by, values.reason, now);
      const result = { action, ...target, by, reason: values.reason };
      io.out(
        io.json
          ? JSON.stringify(result)
          : `maintenance cleared on ${values.node ? `${values.cluster}/${values.node}` : values.cluster} (by ${by}: ${values.reason})`,
      );
    }
  } finally {
    client.destroy();
  }
}

async function apiUrlOf(values: { 'api-url'?: string; stack?: string }): Promise<URL> {
  if (values['api-url'])
    return new URL(values['api-url'].endsWith('/') ? values['api-url'] : `${values['api-url']}/`);
  if (!values.stack) throw new UsageError('give --stack NAME (a deployed stack) or --api-url URL');
  const cfn = new CloudFormationClient({});
  const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: values.stack }));
  cfn.destroy();
  const url = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'ApprovalApiUrl')?.OutputValue;
  if (!url)
    throw new Error(
      `stack ${values.stack} has no ApprovalApiUrl output: is it a replica-sentinel stack with runbooks?`,
    );
  return new URL(url.endsWith('/') ? url : `${url}/`);
}

async function decision(
  command: 'approve' | 'reject',
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      reason: { type: 'string' },
      stack: { type: 'string' },
      'api-url': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(HELP[command] ?? '');
    return;
  }
  const incidentId = positionals[0];
  if (!incidentId) throw new UsageError(`${command}: give the incident id`);
  if (!values.cluster) throw new UsageError('--cluster is required');
  const base = await apiUrlOf(values);
  const url = new URL(
    `incidents/${encodeURIComponent(values.cluster)}/${encodeURIComponent(incidentId)}/${command}`,
    base,
  );
  const response = await signedPost(url, values.reason ? { reason: values.reason } : {}, env);
  const message = (response.body as { message?: string })?.message;
  if (response.status !== 200)
    throw new Error(
      `${command} refused (HTTP ${response.status}): ${message ?? JSON.stringify(response.body)}`,
    );
  io.out(
    values.json
      ? JSON.stringify(response.body)
      : `${incidentId}: ${command === 'approve' ? 'approved' : 'rejected'}`,
  );
}

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: { out: (text: string) => void; err: (text: string) => void } = {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  },
  now: () => number = Date.now,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === 'help') {
      io.out(HELP.main ?? '');
      return command === undefined ? 2 : 0;
    }
    if (command === 'maintenance') {
      const [action, ...args] = rest;
      await maintenance(action, args, env, { json: false, out: io.out }, now());
      return 0;
    }
    if (command === 'approve' || command === 'reject') {
      await decision(command, rest, env, io);
      return 0;
    }
    throw new UsageError(`unknown command '${command}' (try --help)`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint =
      (error as Error).name === 'ResourceNotFoundException'
        ? ' (is the local stack running, and is --table right?)'
        : (error as { code?: string }).code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)
          ? ' (no local stack answers there: start one, or pass --endpoint / --stack)'
          : '';
    io.err(`replica-sentinel: ${message.split('\n')[0]}${hint}`);
    return 2;
  }
}
