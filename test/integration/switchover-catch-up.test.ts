import { describe, expect, it } from '@jest/globals';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import type { NodeState } from '../../functions/core/node-state';
import type { RunbookState } from '../../functions/core/runbook';
import {
  SWITCHOVER_CATCH_UP_LOOK_MS,
  SWITCHOVER_CATCH_UP_SECONDS,
  SWITCHOVER_POLL_SECONDS,
  SWITCHOVER_PROMOTE_WITHIN_SECONDS,
  switchoverIncident,
} from '../../functions/core/switchover';
import { useTestTable } from '../support/dynamodb';
import { storedNode } from '../support/node-states';
import { runbookInput, ScriptedHooks, seedCluster, stepsFor } from '../support/runbooks';

/**
 * The switchover's catch-up step on the real steps handler and DynamoDB Local, the servers scripted: it looks
 * at the candidate again within the step (a candidate a few bytes behind when writes stop has caught up
 * milliseconds later: no Wait state of a second while writes are stopped) for a bounded time, and still never
 * lets a candidate that has not applied the final position through. The clock is injected (a test's own
 * time, moved by the hooks as a slow server would); a hung candidate is a promise that never settles.
 */
class CountingHooks extends ScriptedHooks {
  progressReads = 0;
  /** How far each read of a position moves the test's clock (a server that takes this long to answer). */
  readCostMs = 0;
  /** The candidate's reads never answer (a hung or blackholed server). */
  hangs = false;
  /** The old primary's position cannot be read. */
  primaryUnreadable = false;
  now = Date.now();
  readonly clock = () => this.now;
  override async replicationProgress(
    _engine?: unknown,
    endpoint?: { nodeId: string },
  ): Promise<string | undefined> {
    this.progressReads++;
    this.now += this.readCostMs;
    if (endpoint?.nodeId === 'pg-1' && this.primaryUnreadable)
      throw new Error('Node pg-1 (127.0.0.1:7000) answers but the connection failed: too many clients');
    if (this.hangs) return new Promise<string | undefined>(() => undefined);
    return super.replicationProgress();
  }
}

const table = useTestTable('switchover-catch-up');

let cluster = 0;
/** A PostgreSQL primary pg-1 and a HEALTHY replica pg-2, a switchover incident, the state after StopWrites. */
async function afterStopWrites(finalPosition: string, deadlineInMs: number, now = Date.now()) {
  const clusterId = `sw-catch-${++cluster}`;
  const nodes: NodeState[] = [
    storedNode('pg-1', 'primary', now, { clusterId, engine: 'postgresql' }),
    storedNode('pg-2', 'replica', now, { clusterId, engine: 'postgresql', sourceNodeId: 'pg-1' }),
  ];
  const incident = switchoverIncident(clusterId, nodes[0] as NodeState, { by: 'test', to: 'pg-2' }, now);
  // The switchover's own lock, as TakeLock left it.
  const meta = { lockIncidentId: incident.incidentId, lockRunbook: 'primary-switchover' };
  await seedCluster(table, { clusterId, nodes, meta }, now);
  await new DynamoIncidentStore(table.client, table.tableName).save(incident, undefined);
  const state: RunbookState = {
    ...runbookInput(incident),
    candidate: 'pg-2',
    engine: 'postgresql',
    epoch: 7,
    finalPosition,
    writesStoppedAt: now + deadlineInMs - SWITCHOVER_CATCH_UP_SECONDS * 1000,
    catchUpDeadline: now + deadlineInMs,
  };
  return { state, clusterId, nodes, incident };
}

describe('switchover catch-up', () => {
  it('goes on as soon as the candidate has applied the final position, within the same step', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400', '0/480', '0/500'];
    const { steps } = stepsFor(table, hooks);
    const { state } = await afterStopWrites('0/500', 20_000);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result.next).toBe('caught-up');
    expect(hooks.progressReads).toBe(3);
  });

  it('hands over to the Wait state after SWITCHOVER_POLL_SECONDS of looks while the candidate is behind', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400'];
    hooks.readCostMs = 250;
    const { steps } = stepsFor(table, hooks, hooks.clock);
    const { state } = await afterStopWrites('0/500', 20_000, hooks.now);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result).toMatchObject({ next: 'waiting', waitSeconds: SWITCHOVER_POLL_SECONDS });
    // Counted by the clock, not in looks: no new look once a second has passed.
    expect(hooks.progressReads).toBe((SWITCHOVER_POLL_SECONDS * 1000) / hooks.readCostMs);
  });

  it('looks no more once the catch-up deadline is reached, even within the second', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400'];
    hooks.readCostMs = 100;
    const { steps } = stepsFor(table, hooks, hooks.clock);
    const { state } = await afterStopWrites('0/500', 300, hooks.now);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result.next).toBe('timed-out');
    expect(hooks.progressReads).toBe(3);
  });

  it('calls the switchover off once the deadline has passed with the candidate behind, after one look', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400'];
    const { steps } = stepsFor(table, hooks);
    const { state } = await afterStopWrites('0/500', -1);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result.next).toBe('timed-out');
    expect(result.outcome).toMatch(/had applied 0\/400, not pg-1's final position 0\/500/);
    expect(hooks.progressReads).toBe(1);
  });

  it('waits for a hung candidate one bounded look per step, then calls the switchover off at the deadline', async () => {
    const hooks = new CountingHooks();
    hooks.hangs = true;
    // Each look at the blackholed candidate takes the test's clock past the step's second.
    hooks.readCostMs = 2_500;
    const { steps } = stepsFor(table, hooks, hooks.clock);
    const { state } = await afterStopWrites('0/500', 5_000, hooks.now);
    const first = await steps({ action: 'awaitCatchUp', state });
    expect(first).toMatchObject({ next: 'waiting', waitSeconds: SWITCHOVER_POLL_SECONDS });
    expect(hooks.progressReads).toBe(1);
    const second = await steps({ action: 'awaitCatchUp', state: first });
    expect(second.next).toBe('timed-out');
    expect(hooks.progressReads).toBe(2);
    expect(second.outcome).toContain(
      `had applied nothing it could report (pg-2 gave no answer within ${SWITCHOVER_CATCH_UP_LOOK_MS} ms)`,
    );
    // The flow's next state restores writes: called off, the lock released by ReleaseLock after it.
    const resumed = await steps({ action: 'resumeWrites', state: second });
    expect(resumed.outcome).toMatch(/^switchover called off: pg-2 had applied nothing/);
    expect(hooks.count('resumeWrites')).toBe(1);
  });
});

describe('switchover write pause', () => {
  it('records when writes stopped, before the hook acts; an unreadable final position calls it off', async () => {
    const hooks = new CountingHooks();
    const { steps } = stepsFor(table, hooks, hooks.clock);
    const { state } = await afterStopWrites('0/500', 20_000, hooks.now);
    const { finalPosition: _f, writesStoppedAt: _w, catchUpDeadline: _d, ...input } = state;
    const stopped = await steps({ action: 'stopWrites', state: input });
    expect(stopped).toMatchObject({
      next: 'done',
      finalPosition: '0/100',
      writesStoppedAt: hooks.now,
      catchUpDeadline: hooks.now + SWITCHOVER_CATCH_UP_SECONDS * 1000,
    });

    hooks.primaryUnreadable = true;
    const calledOff = await steps({ action: 'stopWrites', state: input });
    expect(calledOff).toMatchObject({ next: 'called-off', writesStoppedAt: hooks.now });
    expect(calledOff.outcome).toMatch(/final position of pg-1 could not be read .*too many clients/);
  });

  it('refuses to promote once writes have been stopped longer than the bound, and restores them', async () => {
    const hooks = new CountingHooks();
    const { steps, recovery } = stepsFor(table, hooks, hooks.clock);
    const { state, clusterId, incident } = await afterStopWrites('0/500', 20_000, hooks.now);
    hooks.now = (state.writesStoppedAt ?? 0) + SWITCHOVER_PROMOTE_WITHIN_SECONDS * 1000 + 1_000;
    const refused = await steps({ action: 'promote', state: { ...state, next: 'caught-up' } });
    expect(refused.next).toBe('called-off');
    expect(refused.outcome).toMatch(
      new RegExp(
        `stopped for ${SWITCHOVER_PROMOTE_WITHIN_SECONDS + 1}s .* longer than the ${SWITCHOVER_PROMOTE_WITHIN_SECONDS}s`,
      ),
    );
    expect(hooks.count('promote')).toBe(0);
    expect(await recovery.getCluster(clusterId)).toMatchObject({ epoch: 7, primaryNodeId: 'pg-1' });

    await steps({ action: 'resumeWrites', state: refused });
    expect(hooks.calls.filter((c) => c.action === 'resumeWrites').map((c) => c.target)).toEqual(['pg-1']);
    const closed = await recovery.getIncident(clusterId, incident.incidentId, incident.openedAt);
    expect(closed?.state).toBe('RESOLVED');
    expect((closed as { outcome?: string } | undefined)?.outcome).toMatch(
      /^switchover called off: writes had been stopped for/,
    );
  });

  it('promotes within the bound, and a retried Promote after the epoch moved goes on even when late', async () => {
    const hooks = new CountingHooks();
    const { steps, recovery } = stepsFor(table, hooks, hooks.clock);
    const { state, clusterId } = await afterStopWrites('0/500', 20_000, hooks.now);
    hooks.now = (state.writesStoppedAt ?? 0) + SWITCHOVER_PROMOTE_WITHIN_SECONDS * 1000;
    const promoted = await steps({ action: 'promote', state });
    expect(promoted).toMatchObject({ next: 'done', epoch: 8 });
    // The same input again, later (the first attempt's answer was lost): the candidate may be primary now.
    hooks.now += 30_000;
    const retried = await steps({ action: 'promote', state });
    expect(retried).toMatchObject({ next: 'done', epoch: 8 });
    expect(hooks.count('promote')).toBe(2);
    expect(await recovery.getCluster(clusterId)).toMatchObject({ epoch: 8 });
  });

  it('a failed run whose writes were stopped restores them, even before the final position was read', async () => {
    const hooks = new CountingHooks();
    const { steps } = stepsFor(table, hooks, hooks.clock);
    const { state } = await afterStopWrites('0/500', 20_000, hooks.now);
    const { finalPosition: _f, ...withoutPosition } = state;
    const failed = await steps({
      action: 'markFailed',
      state: {
        ...withoutPosition,
        error: { Error: 'Error', Cause: 'awaitCatchUp: pg-1 reports no position' },
      },
    });
    expect(failed.outcome).toMatch(
      /Nothing was fenced or promoted; the cluster lock is released\. resumeWrites pg-1 done/,
    );
    expect(hooks.count('resumeWrites')).toBe(1);
  });

  it('notes the engine in the Check, so that the steps inside the pause need not look it up', async () => {
    const { steps } = stepsFor(table, new CountingHooks());
    const { state } = await afterStopWrites('0/500', 20_000);
    const {
      engine: _engine,
      candidate: _candidate,
      finalPosition: _f,
      catchUpDeadline: _d,
      ...input
    } = state;
    const result = await steps({ action: 'checkSwitchover', state: input });
    expect(result).toMatchObject({ next: 'proceed', candidate: 'pg-2', engine: 'postgresql' });
  });
});
