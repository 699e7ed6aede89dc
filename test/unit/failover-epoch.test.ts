import { describe, expect, it } from '@jest/globals';
import type { Incident } from '../../functions/core/incidents';
import { failoverEpoch, planFor } from '../../functions/core/operator';
import type { RunbookState } from '../../functions/core/runbook';

const planOf = (candidate: string | undefined): Pick<Incident, 'plan'> => ({
  plan: {
    ...(candidate ? { candidate } : {}),
    rejected: [],
    repoint: [],
    reason: `${candidate ?? 'nobody'} is the most advanced`,
    dataAtRisk: `${candidate ?? 'nobody'} misses 120 bytes`,
  },
});

const state: RunbookState = {
  runbook: 'primary-failover',
  incidentId: 'inc-1',
  clusterId: 'c1',
  nodeId: 'pg-1',
  openedAt: 1_000,
  executionName: 'inc-1',
  candidate: 'pg-3',
  epoch: 8,
};

describe('planFor: the plan only when it is the plan for the candidate promoted', () => {
  it.each([
    ['the same candidate', 'pg-3', 'pg-3', true],
    ['another candidate (an earlier look, a stopped run)', 'pg-2', 'pg-3', false],
    ['a plan without a candidate', undefined, 'pg-3', false],
    ['no candidate asked for', 'pg-3', undefined, false],
  ])('%s', (_what, planned, promoted, found) => {
    const incident = planOf(planned);
    expect(planFor(incident, promoted)).toBe(found ? incident.plan : undefined);
  });

  it('is undefined without an incident', () => {
    expect(planFor(undefined, 'pg-3')).toBeUndefined();
  });
});

describe('failoverEpoch', () => {
  it("states the plan's reason and data at risk when the plan is the promoted candidate's", () => {
    const record = failoverEpoch(state, planOf('pg-3') as Incident, 5_000);
    expect(record).toMatchObject({
      epoch: 8,
      primaryNodeId: 'pg-3',
      previousPrimaryNodeId: 'pg-1',
      why: 'pg-1 was DEAD; pg-3 is the most advanced',
      dataAtRisk: 'pg-3 misses 120 bytes',
    });
  });

  it("never states another candidate's plan for the one promoted", () => {
    const record = failoverEpoch(state, planOf('pg-2') as Incident, 5_000);
    expect(record.primaryNodeId).toBe('pg-3');
    expect(record.why).toBe('pg-1 was DEAD');
    expect(record).not.toHaveProperty('dataAtRisk');
  });
});
