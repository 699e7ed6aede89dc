/** Incidents as the product opens them, for tests that need one to start from. */
import { decideIncident, type Incident, type Transition } from '../../functions/core/incidents';
import { DEFAULT_POLICY } from '../../functions/core/policy';

/** The incident decideIncident opens for `transition` (default policy, mode auto); throws when none opens. */
export function openedIncidentFor(transition: Transition): Incident {
  const decision = decideIncident(transition, { policy: DEFAULT_POLICY, mode: 'auto' });
  if (decision.action !== 'open') throw new Error(`expected an incident to open, got ${decision.action}`);
  return decision.incident;
}
