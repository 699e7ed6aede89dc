import { describe, expect, it } from '@jest/globals';
import { chooseCandidate, forcedCandidate } from '../../functions/core/candidate';
import { executionNameFor, type Incident } from '../../functions/core/incidents';
import {
  halfDoneBy,
  lockRequestOf,
  manualFailoverIncident,
  planManualFailover,
  recoverRefusal,
  restartedIncident,
} from '../../functions/core/manual-failover';
import type { NodeState } from '../../functions/core/node-state';
import type { OperatorActionRecord } from '../../functions/core/operator';
import { resolvePolicy } from '../../functions/core/policy';
import { type ClusterRecoveryState, lockVerdict } from '../../functions/core/recovery';
import { storedNode } from '../support/node-states';

const NOW = Date.UTC(2026, 11, 4, 12);
const policy = resolvePolicy({ heartbeatTimeoutSeconds: 30, maxLagOnFailover: 10 });

const dead = storedNode('r1', 'primary', NOW, {
  status: 'DEAD',
  lastHeartbeatAt: NOW - 120_000,
  position: '1000',
});
const replica = (nodeId: string, applied: string, over: Partial<NodeState> = {}) =>
  storedNode(nodeId, 'replica', NOW, { sourceNodeId: 'r1', appliedPosition: applied, ...over });

const clusterOf = (over: Partial<ClusterRecoveryState> = {}): ClusterRecoveryState => ({
  mode: 'approve',
  policy,
  epoch: 4,
  primaryNodeId: 'r1',
  fencing: 'strict',
  nodes: ['r1', 'r2', 'r3'].map((nodeId) => ({ nodeId, url: `redis://127.0.0.1:1/${nodeId}` })),
  hooks: {},
  approvalTimeoutSeconds: 900,
  ...over,
});
const mapOf = (...nodes: NodeState[]) => new Map(nodes.map((n) => [n.nodeId, n]));
const nodes = mapOf(dead, replica('r2', '1000'), replica('r3', '100'));

const openIncident: Incident = {
  ...manualFailoverIncident('cache', dead, { by: 'robot' }, NOW - 60_000),
  incidentId: 'auto-1',
  request: undefined,
};

describe('planManualFailover', () => {
  const plan = (over: Partial<Parameters<typeof planManualFailover>[0]> = {}, to?: string) =>
    planManualFailover({ clusterId: 'cache', cluster: clusterOf(), nodes, now: NOW, ...over }, { to });

  it('lets a failover of a DEAD primary go ahead, taking over its open DEAD incident', () => {
    expect(plan()).toEqual({ primary: 'r1' });
    expect(plan({ latest: openIncident })).toEqual({ primary: 'r1', takeover: openIncident });
    expect(plan({ latest: { ...openIncident, state: 'RESOLVED' } })).toEqual({ primary: 'r1' });
    const { primaryNodeId: _recorded, ...unrecorded } = clusterOf();
    expect(plan({ cluster: unrecorded })).toEqual({ primary: 'r1' });
    expect(plan({ cluster: clusterOf({ nodes: [] }) })).toMatchObject({
      refused: expect.stringMatching(/has no configuration/),
    });
  });

  it('refuses a primary that is alive or healthy: use switchover', () => {
    const healthy = mapOf({ ...dead, status: 'HEALTHY', lastHeartbeatAt: NOW - 1000 }, replica('r2', '1'));
    expect(plan({ nodes: healthy })).toMatchObject({
      status: 409,
      refused: expect.stringMatching(/use switchover/),
    });
    const reported = mapOf({ ...dead, lastHeartbeatAt: NOW - 1000 }, replica('r2', '1'));
    expect(plan({ nodes: reported })).toMatchObject({ refused: expect.stringMatching(/may be alive/) });
  });

  it('refuses a half-done failover (recover it), another failover holding the lock, a maintenance window', () => {
    const half = clusterOf({
      lockIncidentId: 'inc-9',
      lockRunbook: 'primary-failover',
      epochIncidentId: 'inc-9',
    });
    expect(plan({ cluster: half })).toMatchObject({
      refused: expect.stringMatching(/half done.*recover inc-9/),
    });
    const halfSwitchover = clusterOf({
      lockIncidentId: 'sw-1',
      lockRunbook: 'primary-switchover',
      epochIncidentId: 'sw-1',
    });
    expect(plan({ cluster: halfSwitchover })).toMatchObject({
      refused: expect.stringMatching(/switchover is half done.*check the servers, then unlock/),
    });
    const held = clusterOf({ lockIncidentId: 'inc-9', lockRunbook: 'primary-switchover' });
    expect(plan({ cluster: held })).toMatchObject({
      refused: expect.stringMatching(/holds the cluster lock/),
    });
    const recovering = clusterOf({ lockIncidentId: 'inc-9', lockRunbook: 'replica-recovery' });
    expect(plan({ cluster: recovering })).toEqual({ primary: 'r1' });
    const maintenance = clusterOf({ maintenanceUntil: NOW + 60_000, maintenanceReason: 'upgrade' });
    expect(plan({ cluster: maintenance })).toMatchObject({ refused: expect.stringMatching(/maintenance/) });
  });

  it('checks --to: known (404), not the primary, an endpoint, not noPromote, a reachable replica', () => {
    expect(plan({}, 'r9')).toMatchObject({ status: 404, refused: expect.stringMatching(/unknown node r9/) });
    expect(plan({}, 'r1')).toMatchObject({ refused: expect.stringMatching(/dead primary itself/) });
    const noPromote = clusterOf({
      nodes: [
        { nodeId: 'r2', url: 'redis://x:1', noPromote: true },
        { nodeId: 'r3', url: 'redis://x:2' },
      ],
    });
    expect(plan({ cluster: noPromote }, 'r2')).toMatchObject({ refused: 'r2 is marked noPromote' });
    const silent = mapOf(dead, replica('r2', '1000', { status: 'SILENT' }));
    expect(plan({ nodes: silent }, 'r2')).toMatchObject({ refused: expect.stringMatching(/not reachable/) });
    expect(plan({}, 'r3')).toEqual({ primary: 'r1' });
  });
});

describe('the candidate of a manual failover', () => {
  const config = new Map();
  it('honours --to only within the gates', () => {
    const all = [...nodes.values()];
    expect(chooseCandidate(all, 'r1', config, policy, NOW, 'r2')).toMatchObject({ candidate: 'r2' });
    const lagging = chooseCandidate(all, 'r1', config, policy, NOW, 'r3');
    expect(lagging.candidate).toBeUndefined();
    expect(lagging.reason).toMatch(/r3 was asked for but 900 bytes .* maxLagOnFailover/);
  });

  it('lets a more advanced eligible replica not block an eligible --to, but a non-eligible one does', () => {
    const wide = resolvePolicy({ heartbeatTimeoutSeconds: 30 });
    const all = [dead, replica('r2', '1000'), replica('r3', '990')];
    expect(chooseCandidate(all, 'r1', config, wide, NOW, 'r3')).toMatchObject({ candidate: 'r3' });
    const noPromote = new Map([['r2', { noPromote: true }]]);
    expect(chooseCandidate(all, 'r1', noPromote, wide, NOW, 'r3').candidate).toBeUndefined();
  });

  it('force lifts the gates, never noPromote or an unreachable node', () => {
    const all = [...nodes.values()];
    expect(forcedCandidate(all, 'r1', config, policy, NOW, 'r3')).toMatchObject({ candidate: 'r3' });
    expect(forcedCandidate(all, 'r1', new Map([['r3', { noPromote: true }]]), policy, NOW, 'r3')).toEqual({
      reason: 'r3 is marked noPromote: force does not lift that',
    });
    const gone = [dead, replica('r2', '1000', { status: 'SILENT' }), replica('r3', '100')];
    expect(forcedCandidate(gone, 'r1', config, policy, NOW)).toMatchObject({ candidate: 'r3' });
  });
});

describe('restarting and recovering an incident', () => {
  const action: OperatorActionRecord = {
    action: 'recover',
    clusterId: 'cache',
    by: 'local:sre',
    reason: 'host back',
    at: NOW,
    detail: 're-runs',
  };

  it('gives every restarted run its own execution name, and the incident its request', () => {
    expect(executionNameFor(openIncident)).toBe('auto-1');
    const failed = { ...openIncident, state: 'FAILED' as const, outcome: 'failed', approvalToken: 't' };
    const next = restartedIncident(failed, action, { request: { by: 'local:sre', force: true } });
    expect(next).toMatchObject({
      state: 'OPEN',
      attempt: 1,
      revision: failed.revision + 1,
      request: { force: true },
    });
    expect(next).not.toHaveProperty('outcome');
    expect(next).not.toHaveProperty('approvalToken');
    expect(next.timeline.at(-1)).toMatchObject({ event: 'operator', by: 'local:sre' });
    expect(executionNameFor(next)).toBe('auto-1-a1');
    expect(executionNameFor({ ...next, flaps: 2, attempt: 3 })).toBe('auto-1-r2-a3');
  });

  it('refuses a closed incident, one without a runbook, a running one, a half-done switchover', () => {
    const cluster = clusterOf();
    expect(recoverRefusal({ ...openIncident, state: 'RESOLVED' }, cluster, false)?.refused).toMatch(/closed/);
    expect(recoverRefusal({ ...openIncident, runbook: undefined }, cluster, false)?.refused).toMatch(
      /no runbook/,
    );
    expect(recoverRefusal(openIncident, cluster, true)?.refused).toMatch(/use unlock --force or wait/);
    const switchover = { ...openIncident, runbook: 'primary-switchover' as const, state: 'FAILED' as const };
    const half = clusterOf({
      lockIncidentId: 'auto-1',
      epochIncidentId: 'auto-1',
      lockRunbook: 'primary-switchover',
    });
    expect(recoverRefusal(switchover, half, false)?.refused).toMatch(/not re-run/);
    expect(recoverRefusal({ ...openIncident, state: 'FAILED' }, clusterOf(), false)).toBeUndefined();
    expect(halfDoneBy(clusterOf({ lockIncidentId: 'x', epochIncidentId: 'x' }))).toBe('x');
  });

  it("refuses to re-run a failover of a node that is no longer the recorded primary, unless it is that run's own half-done one", () => {
    const failed = { ...openIncident, state: 'FAILED' as const };
    const moved = clusterOf({ primaryNodeId: 'r2', epoch: 5 });
    expect(recoverRefusal(failed, moved, false)).toEqual({
      refused: expect.stringMatching(/r1 is no longer the recorded primary \(r2 is\).*ack incident auto-1/),
      status: 409,
    });
    const ownHalfDone = clusterOf({
      primaryNodeId: 'r2',
      lockIncidentId: 'auto-1',
      epochIncidentId: 'auto-1',
      lockRunbook: 'primary-failover',
    });
    expect(recoverRefusal(failed, ownHalfDone, false)).toBeUndefined();
  });
});

describe('the lock rules an operator request lifts', () => {
  it('a request passes a pause; force also the cooldown; maintenance holds', () => {
    const paused = clusterOf({ pausedBy: 'ops', lastRecoveryAt: NOW - 1000 });
    expect(lockVerdict(paused, 'i', NOW)).toMatchObject({ ok: false });
    expect(lockVerdict(paused, 'i', NOW, 'primary-failover', lockRequestOf({ by: 'x' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/cooldown/),
    });
    expect(
      lockVerdict(paused, 'i', NOW, 'primary-failover', lockRequestOf({ by: 'x', force: true })),
    ).toEqual({
      ok: true,
    });
    const maintenance = clusterOf({ maintenanceUntil: NOW + 1000 });
    expect(
      lockVerdict(maintenance, 'i', NOW, 'primary-failover', lockRequestOf({ by: 'x', force: true })).ok,
    ).toBe(false);
  });
});
