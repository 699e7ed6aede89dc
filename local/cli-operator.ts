/**
 * The operator commands of the CLI. Mutations (approve, reject, ack, unlock, pause, resume) are calls of
 * the operator API through local/operator-client.ts, never table writes from here; `history` only reads
 * the table (as `status` does). Each prints one line (or one JSON document with --json).
 */
import { parseArgs } from 'node:util';
import { OperatorStore } from '../functions/adapters/operator-store';
import { RecoveryStore } from '../functions/adapters/recovery-store';
import type { EpochRecord } from '../functions/core/operator';
import { requireReason, resolveTable, TARGET_OPTIONS, UsageError } from './cli-common';
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
  ack: `Usage: replica-sentinel ack INCIDENT_ID --cluster ID --reason TEXT [--json] [target]

Closes an open, refused or FAILED incident as acknowledged (RESOLVED, with who and why on its timeline).
For a DATA_LOSS incident it also clears the node's DATA_LOSS hold: its next report is judged afresh.
A runbook still waiting on the incident stops at its next look (the incident is no longer open).
${TARGET}`,
  unlock: `Usage: replica-sentinel unlock --cluster ID --reason TEXT [--force] [--json] [target]

Releases the cluster's recovery lock (left held by a failed failover that had fenced). Refused while the
holder's runbook execution is still running, unless --force: then that execution is stopped (ABORTED)
first. Recorded on the cluster item and on the holder incident's timeline, announced on the alerts topic.
${TARGET}`,
  pause: `Usage: replica-sentinel pause --cluster ID --reason TEXT [--json] [target]

Turns the cluster's automation off without editing its configuration: detection, incidents and
notifications go on, but no runbook takes the lock: a run started (or looking again) while paused waits,
saying "paused by WHO: REASON", and goes on with fresh evidence after resume. A second pause is refused.
${TARGET}`,
  resume: `Usage: replica-sentinel resume --cluster ID --reason TEXT [--json] [target]

Ends a pause: waiting runbooks take the lock at their next look and act on fresh evidence.
${TARGET}`,
  history: `Usage: replica-sentinel history --cluster ID [--json] [target]

Every epoch of the cluster, oldest first: the epoch, the new primary, the previous one, when, who or what
promoted (the runbook execution and incident, or the operator), why, and the data at risk.
--json prints { "clusterId", "epochs": [ … ] }. Reads the table (target as for status).`,
};

const MUTATIONS = ['approve', 'reject', 'ack', 'unlock', 'pause', 'resume'] as const;
export const OPERATOR_COMMANDS = [...MUTATIONS, 'history'] as const;
export type OperatorCommand = (typeof OPERATOR_COMMANDS)[number];

export const isOperatorCommand = (command: string): command is OperatorCommand =>
  (OPERATOR_COMMANDS as readonly string[]).includes(command);

function parse(command: OperatorCommand, args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      reason: { type: 'string' },
      ...(command === 'unlock' ? { force: { type: 'boolean' } } : {}),
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
  if (command === 'history') return history(args, env, io);
  const { values, positionals } = parse(command, args);
  if (values.help) {
    io.out(OPERATOR_HELP[command] ?? '');
    return;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  const clusterId = values.cluster;
  const reason = values.reason;
  const needsReason = command !== 'approve' && command !== 'reject';
  if (needsReason) requireReason(reason, command);
  const onIncident = command === 'approve' || command === 'reject' || command === 'ack';
  const incidentId = positionals[0];
  if (onIncident && !incidentId) throw new UsageError(`${command}: give the incident id`);
  if (!onIncident && positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument '${positionals[0]}' (the cluster is --cluster ID)`);
  const withReason = { reason };
  const result =
    command === 'approve' || command === 'reject'
      ? await callOperation(command, { clusterId, incidentId: incidentId ?? '' }, withReason, values, env)
      : command === 'ack'
        ? await callOperation(
            command,
            { clusterId, incidentId: incidentId ?? '' },
            { reason: reason ?? '' },
            values,
            env,
          )
        : command === 'unlock'
          ? await callOperation(
              command,
              { clusterId },
              { reason: reason ?? '', ...((values as { force?: boolean }).force ? { force: true } : {}) },
              values,
              env,
            )
          : await callOperation(command, { clusterId }, { reason: reason ?? '' }, values, env);
  io.out(values.json ? JSON.stringify(result) : result.message);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One line per epoch. */
function historyLine(e: EpochRecord): string {
  const via = e.incidentId ? ` for incident ${e.incidentId}` : '';
  return `epoch ${e.epoch}  ${iso(e.at)}  ${e.previousPrimaryNodeId ?? '(none)'} → ${e.primaryNodeId}  by ${e.by}${via}; why: ${e.why}; data at risk: ${e.dataAtRisk ?? 'not measured'}`;
}

async function history(args: string[], env: NodeJS.ProcessEnv, io: { out: (text: string) => void }) {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { cluster: { type: 'string' }, ...TARGET_OPTIONS },
  });
  if (values.help) {
    io.out(OPERATOR_HELP.history ?? '');
    return;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  if (positionals.length > 0)
    throw new UsageError(`history: unexpected argument '${positionals[0]}' (the cluster is --cluster ID)`);
  const { client, tableName } = await resolveTable(values, env);
  try {
    if (!(await new OperatorStore(client, tableName).clusterExists(values.cluster)))
      throw new UsageError(`unknown cluster '${values.cluster}'`);
    const epochs = await new RecoveryStore(client, tableName).epochs(values.cluster);
    if (values.json) {
      io.out(JSON.stringify({ clusterId: values.cluster, epochs }));
      return;
    }
    io.out(
      epochs.length === 0
        ? `${values.cluster}: no epoch recorded (no failover yet)`
        : epochs.map(historyLine).join('\n'),
    );
  } finally {
    client.destroy();
  }
}
