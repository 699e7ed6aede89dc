import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import {
  assertEpoch,
  type ClusterRecoveryState,
  lockVerdict,
  rearmSeconds,
  StaleEpochError,
} from '../../functions/core/recovery';
import { T0 } from '../support/heartbeats';

const NOW = T0 + 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const cluster = (overrides: Partial<ClusterRecoveryState> = {}): ClusterRecoveryState => ({
  mode: 'auto',
  policy: DEFAULT_POLICY,
  epoch: 4,
  nodes: [],
  hooks: {},
  approvalTimeoutSeconds: 900,
  fencing: 'strict',
  ...overrides,
});

describe('lockVerdict', () => {
  it('lets the first run take a free lock, and the same incident take it again', () => {
    expect(lockVerdict(cluster(), 'inc-1', NOW)).toEqual({ ok: true });
    expect(lockVerdict(cluster({ lockIncidentId: 'inc-1', lockSince: T0 }), 'inc-1', NOW)).toEqual({
      ok: true,
    });
  });

  it.each<[string, Partial<ClusterRecoveryState>, string]>([
    [
      'another run holds it',
      { lockIncidentId: 'inc-0', lockSince: T0 },
      `another recovery holds the cluster lock: incident inc-0 (runbook) since ${iso(T0)}`,
    ],
    [
      'the cooldown is not over',
      { lastRecoveryAt: NOW - 1000 },
      `cooldown until ${iso(NOW - 1000 + 3_600_000)}: the last failover finished at ${iso(NOW - 1000)} (recoveryBlockSeconds 3600)`,
    ],
    [
      'the cluster is in maintenance',
      { maintenanceUntil: NOW + 1000, maintenanceBy: 'alice', maintenanceReason: 'upgrade' },
      `cluster in maintenance until ${new Date(NOW + 1000).toISOString()} (by alice: upgrade)`,
    ],
  ])('blocks a failover when %s', (_name, overrides, reason) => {
    expect(lockVerdict(cluster(overrides), 'inc-1', NOW)).toMatchObject({ ok: false, reason });
  });

  it('says until when a cooldown or a maintenance blocks, and not for a lock held by another run', () => {
    expect(lockVerdict(cluster({ lastRecoveryAt: NOW - 1000 }), 'inc-1', NOW)).toMatchObject({
      until: NOW - 1000 + 3_600_000,
    });
    expect(lockVerdict(cluster({ maintenanceUntil: NOW + 5000 }), 'inc-1', NOW)).toMatchObject({
      until: NOW + 5000,
    });
    expect(lockVerdict(cluster({ lockIncidentId: 'inc-0' }), 'inc-1', NOW)).not.toHaveProperty('until');
  });

  it('lets a failover preempt a replica recovery, but not another failover', () => {
    const held = (lockRunbook: 'primary-failover' | 'replica-recovery') =>
      cluster({ lockIncidentId: 'inc-0', lockSince: T0, lockRunbook });
    expect(lockVerdict(held('replica-recovery'), 'inc-1', NOW, 'primary-failover')).toEqual({ ok: true });
    expect(lockVerdict(held('primary-failover'), 'inc-1', NOW, 'primary-failover').ok).toBe(false);
    expect(lockVerdict(held('replica-recovery'), 'inc-1', NOW, 'replica-recovery').ok).toBe(false);
  });

  it('does not hold a replica recovery or a demotion back for the failover cooldown, only for maintenance', () => {
    expect(lockVerdict(cluster({ lastRecoveryAt: NOW - 1000 }), 'inc-1', NOW, 'replica-recovery')).toEqual({
      ok: true,
    });
    expect(lockVerdict(cluster({ maintenanceUntil: NOW + 1000 }), 'inc-1', NOW, 'replica-recovery').ok).toBe(
      false,
    );
  });

  it('allows a recovery once the cooldown has passed', () => {
    expect(lockVerdict(cluster({ lastRecoveryAt: NOW - 3_600_000 }), 'inc-1', NOW)).toEqual({ ok: true });
  });
});

describe('rearmSeconds', () => {
  const policy = { ...DEFAULT_POLICY, heartbeatIntervalSeconds: 1 };
  it('waits until a block with an end is over, one second past it', () => {
    expect(rearmSeconds({ ok: false, reason: 'cooldown', until: NOW + 9_500 }, policy, NOW)).toBe(11);
  });
  it('looks again at least hourly however long the block', () => {
    expect(rearmSeconds({ ok: false, reason: 'cooldown', until: NOW + 86_400_000 }, policy, NOW)).toBe(3600);
  });
  it('waits two heartbeat intervals (at least 2 s) for a lock another run holds', () => {
    expect(rearmSeconds({ ok: false, reason: 'held' }, policy, NOW)).toBe(2);
    expect(rearmSeconds({ ok: false, reason: 'held' }, DEFAULT_POLICY, NOW)).toBe(20);
  });
});

describe('assertEpoch (fencing)', () => {
  it('lets a run act under the current epoch', () => {
    expect(() => assertEpoch(5, 5)).not.toThrow();
  });
  it.each([
    [6, 5],
    [5, undefined],
    [4, 5],
  ])('refuses a run holding epoch %s when the cluster is at %s', (current, held) => {
    expect(() => assertEpoch(current, held)).toThrow(StaleEpochError);
  });
});
