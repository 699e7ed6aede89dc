/**
 * What the CLI's runbook-starting commands (switchover, failover, recover, rejoin, rebuild) share after the
 * operator API answered: print what was started, and follow the started run on its incident in the table
 * until the command's own rule says it ended.
 */
import { RecoveryStore } from '../functions/adapters/recovery-store';
import type { OperationResult } from '../functions/core/operator-routes';
import { resolveTable } from './cli-common';

type Io = { out: (text: string) => void };
type Values = Parameters<typeof resolveTable>[0] & {
  json?: boolean;
  'no-wait'?: boolean;
  'api-url'?: string;
};

/**
 * Prints the API's answer. True when the command ends here: `--no-wait`, `also` (e.g. a dry run), or a bare
 * `--api-url` (no table to follow); then the whole answer is printed (JSON with --json). Otherwise only the
 * message, and not with --json (the end is printed as JSON instead).
 */
export function printStarted(started: OperationResult, values: Values, io: Io, also = false): boolean {
  const done = also || values['no-wait'] === true || values['api-url'] !== undefined;
  if (done) io.out(values.json ? JSON.stringify(started) : started.message);
  else if (!values.json) io.out(started.message);
  return done;
}

/** The incident as {@link followOutcome} reads it. */
export type OutcomeIncident = { state: string; outcome?: string } & Record<string, unknown>;

/**
 * Follows the started run until `running` says its incident is no longer running, prints its outcome (with
 * --json: the answer with the state and outcome), and returns 0 when `succeeded` says so, else 1.
 */
export function followOutcome(
  started: OperationResult,
  clusterId: string,
  values: Values,
  env: NodeJS.ProcessEnv,
  io: Io,
  rule: {
    readonly what: string;
    readonly deadlineMs: number;
    readonly running: (incident: OutcomeIncident) => boolean;
    readonly succeeded: (incident: OutcomeIncident, outcome: string) => boolean;
  },
): Promise<number> {
  return followIncident<OutcomeIncident>(
    started,
    clusterId,
    values,
    env,
    (incident) => {
      if (incident === undefined || rule.running(incident)) return undefined;
      const outcome = incident.outcome ?? incident.state;
      io.out(values.json ? JSON.stringify({ ...started, state: incident.state, outcome }) : outcome);
      return rule.succeeded(incident, outcome) ? 0 : 1;
    },
    rule.what,
    rule.deadlineMs,
  );
}

/**
 * Reads the started incident every 500 ms until `ended` returns a result (the exit code to return), and
 * throws naming the incident after `deadlineMs`.
 */
export async function followIncident<I>(
  started: OperationResult,
  clusterId: string,
  values: Values,
  env: NodeJS.ProcessEnv,
  ended: (incident: I | undefined) => number | undefined,
  what: string,
  deadlineMs: number,
): Promise<number> {
  const { client, tableName } = await resolveTable(values, env);
  try {
    const store = new RecoveryStore(client, tableName);
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const incident = (await store.getIncident(
        clusterId,
        String(started.incidentId),
        Number(started.openedAt),
      )) as I | undefined;
      const code = ended(incident);
      if (code !== undefined) return code;
      if (Date.now() > deadline)
        throw new Error(
          `${what} still running after ${Math.round(deadlineMs / 60_000)} minutes: see replica-sentinel incident show ${started.incidentId}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    client.destroy();
  }
}
