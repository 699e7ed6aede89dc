import { describe, expect, it } from '@jest/globals';
import { sweepIntervalProblem, sweepIntervalSeconds } from '../../functions/core/cadence';
import { DEFAULT_POLICY, resolvePolicy } from '../../functions/core/policy';

describe('the sweep cadence follows the policy', () => {
  it('sweeps every third of the smallest heartbeat timeout, between 1 and 60 s', () => {
    expect(sweepIntervalSeconds([])).toBe(10); // the default policy: 30 s timeout
    expect(sweepIntervalSeconds([DEFAULT_POLICY])).toBe(10);
    const demo = resolvePolicy({ heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 3 });
    expect(sweepIntervalSeconds([DEFAULT_POLICY, demo])).toBe(1);
    expect(
      sweepIntervalSeconds([resolvePolicy({ heartbeatIntervalSeconds: 0.5, heartbeatTimeoutSeconds: 1 })]),
    ).toBe(1);
    expect(
      sweepIntervalSeconds([resolvePolicy({ heartbeatIntervalSeconds: 60, heartbeatTimeoutSeconds: 600 })]),
    ).toBe(60);
  });

  it('never gives a period its own policies would reject', () => {
    for (const timeout of [2, 3, 5, 7, 30, 90, 181, 600])
      expect(
        sweepIntervalProblem(sweepIntervalSeconds([{ heartbeatTimeoutSeconds: timeout }]), timeout),
      ).toBeUndefined();
  });

  it('names the timeout a slower sweep cannot honor', () => {
    expect(sweepIntervalProblem(10, 3)).toBe(
      'heartbeatTimeoutSeconds (3) needs a silence sweep at least every 1.5 s, and the sweep runs every 10 s',
    );
    expect(sweepIntervalProblem(15, 30)).toBeUndefined();
    // Below 2 s no sweep (at least 1 s apart) can honor the timeout: such a policy is refused.
    expect(sweepIntervalProblem(sweepIntervalSeconds([{ heartbeatTimeoutSeconds: 1 }]), 1)).toContain(
      'at least every 0.5 s',
    );
  });
});
