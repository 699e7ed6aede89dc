import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import type { NodeState } from '../../functions/core/node-state';
import type { RunbookState } from '../../functions/core/runbook';
import {
  SWITCHOVER_CATCH_UP_POLL_MS,
  SWITCHOVER_POLL_SECONDS,
  switchoverIncident,
} from '../../functions/core/switchover';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { storedNode } from '../support/node-states';
import { runbookInput, ScriptedHooks, seedCluster, stepsFor } from '../support/runbooks';

/**
 * The switchover's catch-up step on the real steps handler and DynamoDB Local, the servers scripted: it looks
 * at the candidate again within the step (a candidate a few bytes behind when writes stop has caught up
 * milliseconds later: no Wait state of a second while writes are stopped), a bounded number of times, and
 * still never lets a candidate that has not applied the final position through.
 */
class CountingHooks extends ScriptedHooks {
  progressReads = 0;
  override async replicationProgress(): Promise<string | undefined> {
    this.progressReads++;
    return super.replicationProgress();
  }
}

let table: TestTable;
beforeAll(async () => {
  table = await createTestTable('switchover-catch-up');
});
afterAll(async () => {
  await table.drop();
});

let cluster = 0;
/** A PostgreSQL primary pg-1 and a HEALTHY replica pg-2, a switchover incident, the state after StopWrites. */
async function afterStopWrites(finalPosition: string, deadlineInMs: number) {
  const clusterId = `sw-catch-${++cluster}`;
  const now = Date.now();
  const nodes: NodeState[] = [
    storedNode('pg-1', 'primary', now, { clusterId, engine: 'postgresql' }),
    storedNode('pg-2', 'replica', now, { clusterId, engine: 'postgresql', sourceNodeId: 'pg-1' }),
  ];
  await seedCluster(table, { clusterId, nodes }, now);
  const incident = switchoverIncident(clusterId, nodes[0] as NodeState, { by: 'test', to: 'pg-2' }, now);
  await new DynamoIncidentStore(table.client, table.tableName).save(incident, undefined);
  const state: RunbookState = {
    ...runbookInput(incident),
    candidate: 'pg-2',
    engine: 'postgresql',
    finalPosition,
    catchUpDeadline: now + deadlineInMs,
  };
  return { state, clusterId, nodes };
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

  it('hands over to the Wait state after a bounded number of looks while the candidate is behind', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400'];
    const { steps } = stepsFor(table, hooks);
    const { state } = await afterStopWrites('0/500', 20_000);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result).toMatchObject({ next: 'waiting', waitSeconds: SWITCHOVER_POLL_SECONDS });
    expect(hooks.progressReads).toBe(
      Math.ceil((SWITCHOVER_POLL_SECONDS * 1000) / SWITCHOVER_CATCH_UP_POLL_MS),
    );
  });

  it('calls the switchover off once the deadline has passed with the candidate behind', async () => {
    const hooks = new CountingHooks();
    hooks.progress = ['0/400'];
    const { steps } = stepsFor(table, hooks);
    const { state } = await afterStopWrites('0/500', -1);
    const result = await steps({ action: 'awaitCatchUp', state });
    expect(result.next).toBe('timed-out');
    expect(result.outcome).toMatch(/had applied 0\/400, not pg-1's final position 0\/500/);
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
