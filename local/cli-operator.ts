/**
 * The operator commands of the CLI (approve, reject): each a call of the operator API through
 * local/operator-client.ts, printing the API's one-line answer (or its JSON with --json).
 */
import { parseArgs } from 'node:util';
import { UsageError } from './cli-common';
import { callOperation, OPERATOR_TARGET_OPTIONS } from './operator-client';

const TARGET = `Target: --stack NAME or --api-url URL (a deployed stack's operator API, signed with your AWS
credentials: your IAM identity is recorded), else the local stack (--endpoint URL, default
http://127.0.0.1:$REPLICA_SENTINEL_LOCAL_PORT; --as NAME records who, default your user name).`;

export const OPERATOR_HELP: Record<string, string> = {
  approve: `Usage: replica-sentinel approve INCIDENT_ID --cluster ID [--reason TEXT] [--json] [target]

Approves the runbook waiting for approval on the incident; you are recorded as the approver.
${TARGET}`,
  reject: `Usage: replica-sentinel reject INCIDENT_ID --cluster ID [--reason TEXT] [--json] [target]

Rejects the runbook waiting for approval on the incident: it stops and touches nothing.
${TARGET}`,
};

export const OPERATOR_COMMANDS = ['approve', 'reject'] as const;
export type OperatorCommand = (typeof OPERATOR_COMMANDS)[number];

export const isOperatorCommand = (command: string): command is OperatorCommand =>
  (OPERATOR_COMMANDS as readonly string[]).includes(command);

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      reason: { type: 'string' },
      ...OPERATOR_TARGET_OPTIONS,
    },
  });
}

/** Runs one operator command; prints its one-line answer (or the JSON answer with --json). */
export async function operatorCommand(
  command: OperatorCommand,
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<void> {
  const { values, positionals } = parse(args);
  if (values.help) {
    io.out(OPERATOR_HELP[command] ?? '');
    return;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  const clusterId = values.cluster;
  const incidentId = positionals[0];
  if (!incidentId) throw new UsageError(`${command}: give the incident id`);
  const result = await callOperation(
    command,
    { clusterId, incidentId },
    values.reason === undefined ? {} : { reason: values.reason },
    values,
    env,
  );
  io.out(values.json ? JSON.stringify(result) : result.message);
}
