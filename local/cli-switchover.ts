/**
 * `replica-sentinel switchover`: asks the operator API for a planned switchover (the rules refuse a bad
 * request at once: exit 2, nothing changed), then follows the SWITCHOVER incident until its runbook ends
 * and prints how it ended (exit 1 when it was refused, called off or failed).
 */
import { parseArgs } from 'node:util';
import { requireReason, UsageError } from './cli-common';
import { followOutcome, printStarted } from './cli-follow';
import { callOperation, OPERATOR_TARGET_OPTIONS } from './operator-client';

export const SWITCHOVER_HELP = `Usage: replica-sentinel switchover --cluster ID --reason TEXT [--to NODE] [--dry-run] [--no-wait] [--json] [target]

Moves the primary role to a replica with no acknowledged write lost: writes stop on the primary, the
replica (--to NODE, else the most advanced eligible one) applies its final position, it is promoted, the old
primary follows it (Redis, MySQL/MariaDB; PostgreSQL through a rebuild hook) and the other replicas are
repointed. If the replica does not catch up in time, writes are restored and nothing else changes.
Refused at once (exit 2, nothing changed): an unknown cluster or node, a node that is not a HEALTHY replica
of the primary or is noPromote, a primary that is not HEALTHY, a recovery holding the lock, mode off.
Waits for the runbook's end and prints it (exit 1 if refused, called off or failed); --no-wait returns at
once with the incident id. Same mode, approval and dry-run rules as a failover.
Target: --stack NAME / --api-url URL (deployed: signed with your AWS credentials), else the local stack
(--endpoint URL; --as NAME records who).`;

const WAIT_DEADLINE_MS = 15 * 60_000;

export async function switchoverCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      cluster: { type: 'string' },
      reason: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      ...OPERATOR_TARGET_OPTIONS,
    },
  });
  if (values.help) {
    io.out(SWITCHOVER_HELP);
    return 0;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  const reason = requireReason(values.reason);
  const started = await callOperation(
    'switchover',
    { clusterId: values.cluster },
    {
      reason,
      to: values.to,
      ...(values['dry-run'] ? { dryRun: true } : {}),
    },
    values,
    env,
  );
  if (printStarted(started, values, io)) return 0;
  return followOutcome(started, values.cluster, values, env, io, {
    what: `switchover ${started.incidentId}`,
    deadlineMs: WAIT_DEADLINE_MS,
    running: (incident) => incident.state === 'OPEN',
    // It did not happen (refused on fresh state, called off, rejected, failed): exit 1.
    succeeded: (_, outcome) => /^(switched over|dry run)/.test(outcome),
  });
}
