/**
 * `replica-sentinel failover` and `recover`: ask the operator API (a refused request exits 2 with one line
 * and changes nothing), then follow the run they started on its incident until it ends, or stops to wait,
 * and print how (exit 0 when failed over / recovered / dry run, 1 otherwise).
 */
import { parseArgs } from 'node:util';
import type { OperationResult } from '../functions/core/operator-routes';
import { requireReason, UsageError } from './cli-common';
import { followIncident, printStarted } from './cli-follow';
import { callOperation, OPERATOR_TARGET_OPTIONS } from './operator-client';

const TARGET = `Target: --stack NAME / --api-url URL (deployed: signed with your AWS credentials), else the local stack
(--endpoint URL; --as NAME records who).`;

export const FAILOVER_HELP = `Usage: replica-sentinel failover --cluster ID --reason TEXT [--to NODE] [--force] [--dry-run] [--no-wait] [--json] [target]

Fails the cluster's DEAD primary over now, as your decision: in any mode (approve, dry-run, off, paused)
and without an approval. Refused at once (exit 2, nothing changed): an unknown cluster or node, a primary
that is not DEAD on fresh evidence (a live one is moved with switchover), a --to that is not a reachable
replica or is noPromote, a maintenance window, a failover half done (recover it), another failover's lock.
An open automatic failover of that primary (waiting, refused, awaiting approval) is taken over.
The runbook then re-verifies, fences the old primary (never skipped), promotes --to (else its own choice)
if the data-at-risk gates allow it; --force promotes it anyway and ignores the cooldown: the data at risk is
printed, recorded on the incident and announced. --dry-run prints the plan and writes nothing.
Waits for the run's end (exit 0 when failed over, 1 when refused, waiting or failed); --no-wait returns
at once with the incident id.
${TARGET}`;

export const RECOVER_HELP = `Usage: replica-sentinel recover INCIDENT_ID --cluster ID --reason TEXT [--no-wait] [--json] [target]

Re-runs the incident's runbook from its start with fresh evidence, on the same incident (a new execution).
For a FAILED run or one that stopped (refused, ended) while the incident is open. A failover that failed
after it moved the epoch goes on with the candidate it chose and finishes. Refused (exit 2): a RESOLVED
(or acknowledged) incident, one without a runbook, one whose run is still going (unlock --force or wait).
Waits for the run's end like failover.
${TARGET}`;

const WAIT_DEADLINE_MS = 15 * 60_000;
/** Steps after which the run has done what it can for now. */
const SUCCESS_STEPS = new Set(['completed', 'dry-run']);
const STOP_STEPS = new Set([
  'failed',
  'no-candidate',
  'fence-refused',
  'aborted',
  'aborted-alive',
  'rejected',
  'expired',
  'preempted',
  'refused',
  'called-off',
  'paged',
  'approval-requested',
]);

interface Followed {
  readonly state?: string;
  readonly outcome?: string;
  readonly plan?: { readonly dataAtRisk?: string; readonly forced?: unknown };
  readonly runbookSteps?: readonly { execution: string; step: string; detail: string }[];
}

/** Follows the run `started` names on its incident; prints how it ended; the exit code. */
function follow(
  started: OperationResult,
  clusterId: string,
  values: Parameters<typeof followIncident>[2],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<number> {
  const execution = String(started.executionName);
  return followIncident<Followed>(
    started,
    clusterId,
    values,
    env,
    (incident) => {
      const last = incident?.runbookSteps?.filter((s) => s.execution === execution).at(-1);
      const ended =
        last !== undefined &&
        (SUCCESS_STEPS.has(last.step) || STOP_STEPS.has(last.step) || last.step.startsWith('waiting'));
      if (!ended && !(incident !== undefined && incident.state !== 'OPEN' && last !== undefined))
        return undefined;
      const ok = last !== undefined && SUCCESS_STEPS.has(last.step);
      const outcome = last?.detail ?? incident?.outcome ?? incident?.state ?? 'unknown';
      const risk = incident?.plan?.dataAtRisk;
      if (values.json)
        io.out(
          JSON.stringify({
            ...started,
            state: incident?.state,
            step: last?.step,
            outcome,
            ...(risk ? { dataAtRisk: risk } : {}),
          }),
        );
      else {
        io.out(`${last?.step ?? 'ended'}: ${outcome}`);
        if (risk && !outcome.includes(risk)) io.out(`data at risk: ${risk}`);
        if (!ok && incident?.state === 'OPEN')
          io.out(`the incident stays open: replica-sentinel incident show ${started.incidentId}`);
      }
      return ok ? 0 : 1;
    },
    execution,
    WAIT_DEADLINE_MS,
  );
}

export async function failoverCommand(
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
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      ...OPERATOR_TARGET_OPTIONS,
    },
  });
  if (values.help) {
    io.out(FAILOVER_HELP);
    return 0;
  }
  if (!values.cluster) throw new UsageError('--cluster is required');
  const reason = requireReason(values.reason);
  const started = await callOperation(
    'failover',
    { clusterId: values.cluster },
    {
      reason,
      to: values.to,
      ...(values.force ? { force: true } : {}),
      ...(values['dry-run'] ? { dryRun: true } : {}),
    },
    values,
    env,
  );
  if (printStarted(started, values, io, values['dry-run'] === true)) return 0;
  return follow(started, values.cluster, values, env, io);
}

export async function recoverCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      reason: { type: 'string' },
      'no-wait': { type: 'boolean' },
      ...OPERATOR_TARGET_OPTIONS,
    },
  });
  if (values.help) {
    io.out(RECOVER_HELP);
    return 0;
  }
  const [incidentId, ...extra] = positionals;
  if (!incidentId) throw new UsageError('recover: the incident id is required (replica-sentinel recover ID)');
  if (extra.length > 0) throw new UsageError(`recover: unexpected argument '${extra[0]}'`);
  if (!values.cluster) throw new UsageError('--cluster is required');
  const reason = requireReason(values.reason);
  const started = await callOperation(
    'recover',
    { clusterId: values.cluster, incidentId },
    { reason },
    values,
    env,
  );
  if (printStarted(started, values, io)) return 0;
  return follow(started, values.cluster, values, env, io);
}
