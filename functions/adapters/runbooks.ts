import type { Incident } from '../core/incidents';

/**
 * The hand-off to the recovery runbooks: start the incident's runbook (`incident.runbook`), named by the
 * incident id so that a repeated start never runs it twice. The runbook issue provides the Step
 * Functions implementation; on-transition only depends on this interface.
 */
export interface RunbookLauncher {
  start(incident: Incident): Promise<{ executionArn?: string; note: string }>;
}

/** Until runbooks are deployed: the hand-off is recorded and logged, nothing is started. */
export class NoRunbookLauncher implements RunbookLauncher {
  async start(incident: Incident): Promise<{ note: string }> {
    return {
      note: `runbook ${incident.runbook ?? '(none)'} not deployed: nothing started for ${incident.incidentId}`,
    };
  }
}
