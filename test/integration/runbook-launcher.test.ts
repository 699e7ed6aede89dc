import { describe, expect, it } from '@jest/globals';
import type { Incident } from '../../functions/core/incidents';
import { LocalRunbookLauncher } from '../../local/runbook-launcher';
import type { StepsPayload } from '../../local/runbook-runner';

/** An open incident as on-transition hands it over (only the fields the launcher reads matter). */
const incident = (change: Partial<Incident>): Incident =>
  ({
    clusterId: 'orders-redis',
    incidentId: 'inc-promoted-then-dead',
    nodeId: 'redis-2',
    state: 'OPEN',
    flaps: 0,
    openedAt: Date.parse('2026-12-04T15:00:00Z'),
    ...change,
  }) as Incident;

/**
 * Local mode's StartExecution: execution names are unique per state machine, as in Step Functions. The same
 * open incident first ran replica-recovery (its node was a STALLED replica); the node, promoted since, dies
 * as a primary and the incident escalates to DEAD: its failover must start, under the same name.
 */
describe('LocalRunbookLauncher', () => {
  it('starts a failover for an incident whose replica recovery ran under the same name; a repeat starts nothing', async () => {
    const calls: StepsPayload[] = [];
    const launcher = new LocalRunbookLauncher({
      // Every run ends at its first step: re-verification finds nothing to do.
      steps: async (payload) => {
        calls.push(payload);
        return { ...payload.state, next: 'abort', outcome: 'aborted: test' };
      },
    });
    const stalled = incident({ kind: 'STALLED', role: 'replica', runbook: 'replica-recovery' });
    const dead = incident({ kind: 'DEAD', role: 'primary', runbook: 'primary-failover', revision: 5 });

    expect((await launcher.start(stalled)).note).toBe(
      'started replica-recovery as inc-promoted-then-dead (local)',
    );
    expect((await launcher.start(dead)).note).toBe(
      'started primary-failover as inc-promoted-then-dead (local)',
    );
    expect((await launcher.start(dead)).note).toBe(
      'primary-failover inc-promoted-then-dead was already started',
    );

    const runs = await launcher.settled();
    expect(runs.map((run) => run.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    // One run per state machine, each under the incident's name (they run side by side: sorted).
    expect(
      calls.map((call) => `${call.action} ${call.state.runbook} ${call.state.executionName}`).sort(),
    ).toEqual([
      'reverify primary-failover inc-promoted-then-dead',
      'reverify replica-recovery inc-promoted-then-dead',
    ]);
  });
});
