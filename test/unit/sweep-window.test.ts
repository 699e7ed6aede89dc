import { describe, expect, it } from '@jest/globals';
import { nextSweep, SWEEP_WINDOW_SECONDS, slotAt, sweepsPerWindow } from '../../functions/core/sweep-window';

const START = Date.parse('2026-12-04T18:00:00Z');

/**
 * What the sweep state machine does with the handler's answers: sweep slot 0 at the window's start, then
 * wait until each answered `at` (at once when it has passed) and sweep, until `done`. `took(n)` is how long
 * the n-th sweep of the window takes (ms). Returns when each sweep started.
 */
function runWindow(startMs: number, intervalSeconds: number, took: (n: number) => number): number[] {
  const window = { startMs, intervalSeconds };
  const starts: number[] = [];
  let now = startMs;
  let index = 0;
  for (;;) {
    starts.push(now);
    now += took(starts.length - 1);
    const next = nextSweep(window, index, now);
    if (next.done) return starts;
    expect(next.index).toBeGreaterThan(index);
    index = next.index;
    now = Math.max(now, next.atMs);
  }
}

/** A seeded generator (mulberry32), so the random durations are the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the slots of a sweep window', () => {
  it('are ⌈60 / P⌉ a minute, P apart from the window start', () => {
    expect(SWEEP_WINDOW_SECONDS).toBe(60);
    expect([10, 7, 1, 60, 45, 13, 30, 59].map((p) => sweepsPerWindow(p))).toEqual([6, 9, 60, 1, 2, 5, 2, 2]);
    const window = { startMs: START, intervalSeconds: 7 };
    expect([0, 1, 8].map((i) => (slotAt(window, i) - START) / 1000)).toEqual([0, 7, 56]);
  });

  it('answer the next slot after a quick sweep, and done after the last', () => {
    const window = { startMs: START, intervalSeconds: 10 };
    expect(nextSweep(window, 0, START + 40)).toEqual({ done: false, index: 1, atMs: START + 10_000 });
    expect(nextSweep(window, 4, START + 40_050)).toEqual({ done: false, index: 5, atMs: START + 50_000 });
    expect(nextSweep(window, 5, START + 50_050)).toEqual({ done: true });
    expect(nextSweep({ startMs: START, intervalSeconds: 60 }, 0, START + 50)).toEqual({ done: true });
  });

  it('fold the slots that passed during a slow sweep into one sweep at once, keeping the grid after it', () => {
    const window = { startMs: START, intervalSeconds: 10 };
    // Slot 0 took 25 s: slots 1 and 2 passed; slot 2 (due at 20 s, already passed) stands for both.
    expect(nextSweep(window, 0, START + 25_000)).toEqual({ done: false, index: 2, atMs: START + 20_000 });
    expect(nextSweep(window, 2, START + 25_100)).toEqual({ done: false, index: 3, atMs: START + 30_000 });
    // A sweep finishing exactly on a slot: that slot is next, due now.
    expect(nextSweep(window, 1, START + 30_000)).toEqual({ done: false, index: 3, atMs: START + 30_000 });
  });

  it("stop once the window's end has passed: the next window's execution has begun", () => {
    const window = { startMs: START, intervalSeconds: 10 };
    expect(nextSweep(window, 3, START + 60_000)).toEqual({ done: true });
    expect(nextSweep(window, 0, START + 95_000)).toEqual({ done: true });
    expect(nextSweep({ startMs: START, intervalSeconds: 7 }, 7, START + 59_999)).toEqual({
      done: false,
      index: 8,
      atMs: START + 56_000,
    });
  });

  it('refuse a slot the window does not have', () => {
    const window = { startMs: START, intervalSeconds: 10 };
    expect(() => nextSweep(window, 6, START)).toThrow('slot 6 is not a slot of a window of 6 sweeps');
    expect(() => nextSweep(window, -1, START)).toThrow(/slot -1/);
    expect(() => nextSweep(window, 0.5, START)).toThrow(/slot 0.5/);
    expect(() => sweepsPerWindow(0)).toThrow(/positive integer/);
  });
});

describe('the silence bound across windows (docs/SIZING.md "The bound")', () => {
  it.each(Array.from({ length: 60 }, (_, i) => i + 1))(
    'P = %i s: consecutive sweeps start at most P apart, across three minutes, with sweeps shorter than P',
    (intervalSeconds) => {
      const rand = random(intervalSeconds);
      const starts = [0, 1, 2].flatMap((w) =>
        runWindow(START + w * 60_000, intervalSeconds, () => Math.floor(rand() * intervalSeconds * 1000)),
      );
      expect(starts.length).toBe(3 * Math.ceil(60 / intervalSeconds));
      const gaps = starts.slice(1).map((s, i) => s - (starts[i] ?? 0));
      expect(Math.max(...gaps)).toBeLessThanOrEqual(intervalSeconds * 1000);
      expect(Math.min(...gaps)).toBeGreaterThan(0);
      // So a deadline at any moment is swept by the first sweep at or after it, within P.
      for (let t = START; t < START + 120_000; t += 997) {
        const first = starts.find((s) => s >= t);
        expect(first).toBeDefined();
        expect((first ?? Number.POSITIVE_INFINITY) - t).toBeLessThanOrEqual(intervalSeconds * 1000);
      }
    },
  );

  it('with a sweep slower than P, the next sweep starts as soon as it ends (the bound grows by its time)', () => {
    const starts = runWindow(START, 10, (n) => (n === 1 ? 27_000 : 50));
    expect(starts.map((s) => (s - START) / 1000)).toEqual([0, 10, 37, 40, 50]);
  });

  it('a window that overruns the minute ends there, no sweep later than its end', () => {
    const starts = runWindow(START, 10, () => 21_000);
    expect(starts.map((s) => (s - START) / 1000)).toEqual([0, 21, 42]);
  });
});
