import type { Incident } from '../core/incidents';

/**
 * The hand-off to the recovery runbooks: start the incident's runbook (`incident.runbook`), named by the
 * incident id so that a repeated start never runs it twice. The runbook issue provides the Step
 * Functions implementation; on-transition only depends on this interface.
 */
export interface RunbookLauncher {
  start(incident: Incident): Promise<{ executionArn?: string; note: string }>;
}

/** The incident's runbook execution (named by the incident): is it running, and stopping it (`unlock --force`). */
export interface RunbookExecutions {
  /** Whether the incident's runbook execution is running now (false when it never started or ended). */
  isRunning(incident: Incident): Promise<boolean>;
  /** Stops it (StopExecution: status ABORTED, no further step runs). */
  stop(incident: Incident, cause: string): Promise<void>;
}

/** Until runbooks are deployed: the hand-off is recorded and logged, nothing is started. */
export class NoRunbookLauncher implements RunbookLauncher {
  async start(incident: Incident): Promise<{ note: string }> {
    return {
      note: `runbook ${incident.runbook ?? '(none)'} not deployed: nothing started for ${incident.incidentId}`,
    };
  }
}
