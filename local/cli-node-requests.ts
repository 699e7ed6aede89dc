/**
 * `replica-sentinel rejoin` and `replica-sentinel rebuild`: ask the operator API to put one node back under
 * the primary (or to rebuild it through the cluster's rebuild hook). A request the rules refuse exits 2 with
 * one line and changes nothing; otherwise the incident's replica-recovery run is followed until it ends and
 * its outcome printed (exit 1 when it paged, failed or was stopped).
 */
import { parseArgs } from 'node:util';
import { requireReason, UsageError } from './cli-common';
import { followOutcome, printStarted } from './cli-follow';
import { callOperation, OPERATOR_TARGET_OPTIONS } from './operator-client';

const TARGET = `Target: --stack NAME / --api-url URL (deployed: signed with your AWS credentials), else the local stack
(--endpoint URL; --as NAME records who).`;

export const NODE_REQUEST_HELP = {
  rejoin: `Usage: replica-sentinel rejoin --cluster ID --node NODE --reason TEXT [--no-wait] [--json] [target]

Puts a node back under the cluster's primary (the recorded one; before any failover, the only other HEALTHY
node reporting primary), as the replica-recovery runbook, at once and in any mode (also paused or off:
your request is the decision, no approval is asked):
  a node that reports itself primary is demoted: Redis REPLICAOF the primary; MySQL/MariaDB read-only and
  repointed by GTID; PostgreSQL read-only with its sessions ended, then the cluster's rebuild hook (or a page);
  a replica following another node or nothing is repointed to the primary.
Success is the node's own fresh reports showing it replicating from the primary.
Refused at once (exit 2, nothing changed): an unknown cluster or node, the recorded primary itself (use
switchover), a HEALTHY replica already following the primary (nothing to do), a run holding the lock.
Waits for the end and prints it (exit 1 if it paged, failed or was stopped); --no-wait returns at once.
${TARGET}`,
  rebuild: `Usage: replica-sentinel rebuild --cluster ID --node NODE --reason TEXT [--no-wait] [--json] [target]

Runs the cluster's rebuild hook (hooks.rebuild: lambda, https or ssm) on the node, at once and in any mode,
then waits until the node's fresh reports show it replicating from the primary (one more try: a page).
Refused at once (exit 2, nothing changed): an unknown cluster or node, no rebuild hook configured, the
recorded primary itself, a run holding the lock.
Waits for the end and prints it (exit 1 if it paged, failed or was stopped); --no-wait returns at once.
${TARGET}`,
} as const;

export type NodeRequestCommand = keyof typeof NODE_REQUEST_HELP;
export const isNodeRequestCommand = (command: string): command is NodeRequestCommand =>
  command === 'rejoin' || command === 'rebuild';

const WAIT_DEADLINE_MS = 30 * 60_000;

export async function nodeRequestCommand(
  command: NodeRequestCommand,
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      cluster: { type: 'string' },
      node: { type: 'string' },
      reason: { type: 'string' },
      'no-wait': { type: 'boolean' },
      ...OPERATOR_TARGET_OPTIONS,
    },
  });
  if (values.help) {
    io.out(NODE_REQUEST_HELP[command]);
    return 0;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  if (!values.node) throw new UsageError('--node is required');
  const reason = requireReason(values.reason, command);
  const started = await callOperation(
    command,
    { clusterId: values.cluster, nodeId: values.node },
    { reason },
    values,
    env,
  );
  if (printStarted(started, values, io)) return 0;
  return followOutcome(started, values.cluster, values, env, io, {
    what: `${command} ${started.incidentId}`,
    deadlineMs: WAIT_DEADLINE_MS,
    // A page leaves the incident open for a human: that is an end too.
    running: (incident) => incident.state === 'OPEN' && incident.outcome?.startsWith('paged') !== true,
    succeeded: (incident, outcome) =>
      incident.state === 'RESOLVED' && /^(rejoined|rebuilt|nothing to do)/.test(outcome),
  });
}
