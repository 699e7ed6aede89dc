import { describe, expect, it } from '@jest/globals';
import { expressSeconds, fixedCost, fixedCostHeld, type Measured, PRICES, size } from '../../bench/sizing';

/** Figures of the shape `npm run sizing` measures; the sweep's are what the arithmetic below is about. */
const MEASURED: Measured = {
  requestsPerHeartbeat: 1.2,
  writeUnitsPerHeartbeat: 1,
  readUnitsPerHeartbeat: 0.2,
  recordBytes: 219,
  msPerBatch: 1_000,
  sweepReadUnits: 2_628,
  sweepIndexReadUnits: 128,
  sweepRequests: 2_516,
  sweepMs: 2_000,
  sweepInvocationMs: 20,
  censusReadUnitsPerNode: 0.0128,
};
const EXECUTIONS = 43_200; // one a minute for 30 days

describe('the sweep lines of npm run sizing (docs/SIZING.md)', () => {
  it('bills an Express execution its slots P apart plus the last sweep, per 100 ms', () => {
    // 6 slots at 10 s: 50 s of waiting, then the last sweep (20 ms) and 50 ms per slot beyond the function.
    expect(expressSeconds(20, 6, 10)).toBe(50.1);
    expect(expressSeconds(20, 60, 1)).toBe(59.1);
    expect(expressSeconds(20, 1, 60)).toBe(0.1);
    // Sweeps slower than P run back to back until the minute is over.
    expect(expressSeconds(14_950, 6, 10)).toBe(60);
  });

  it('prices the machine, the per-slot function and the held function from the same measured figures', () => {
    const r = size(0, MEASURED);
    const machine =
      (EXECUTIONS / 1e6) * PRICES.stepFunctionsExpressRequestsPerMillion +
      EXECUTIONS * 50.1 * (64 / 1024) * PRICES.stepFunctionsExpressGbSecond;
    expect(r.sweepMachine).toBeCloseTo(machine, 6);
    expect(r.sweepMachine).toBeCloseTo(2.298, 3);
    const lambda =
      ((EXECUTIONS * 6) / 1e6) * PRICES.lambdaRequestsPerMillion +
      EXECUTIONS * 6 * 0.02 * 0.25 * PRICES.lambdaArmGbSecond;
    expect(r.sweep).toBeCloseTo(lambda, 6);
    expect(r.sweep).toBeCloseTo(0.0691, 4);
    // Held: 50 s + one sweep of 20 ms, 256 MB, once a minute.
    expect(r.sweepHeld).toBeCloseTo(
      (EXECUTIONS / 1e6) * PRICES.lambdaRequestsPerMillion +
        EXECUTIONS * 50.02 * 0.25 * PRICES.lambdaArmGbSecond,
      6,
    );
    expect(r.sweep + r.sweepMachine).toBeLessThan(r.sweepHeld / 3);
  });

  it('puts the sweep machine and the per-slot function into the fixed cost in place of the held function', () => {
    const fixed = fixedCost(MEASURED);
    const held = fixedCostHeld(MEASURED);
    const r = size(0, MEASURED);
    expect(held.onDemandTable - fixed.onDemandTable).toBeCloseTo(r.sweepHeld - r.sweep - r.sweepMachine, 9);
    expect(fixed.onDemandTable).toBeLessThan(15);
    expect(held.onDemandTable).toBeGreaterThan(15);
  });
});
