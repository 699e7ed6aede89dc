import { describe, expect, it } from '@jest/globals';
import { NEVER } from '../../functions/core/silence-deadline';
import { SWEEP_BUCKET_MS, sweepKeyOf } from '../../functions/core/sweep-key';
import { T0 } from '../support/heartbeats';

describe('the sweep key (deadline bucket)', () => {
  const offsets = [0, 1, 7_919, 43_200_000, SWEEP_BUCKET_MS - 1];

  it('is never after the deadline and less than one bucket before it', () => {
    for (const offset of offsets) {
      for (
        let deadline = T0 - 3 * SWEEP_BUCKET_MS;
        deadline < T0 + 3 * SWEEP_BUCKET_MS;
        deadline += 997_001
      ) {
        const key = sweepKeyOf(deadline, offset);
        expect(key).toBeLessThanOrEqual(deadline);
        expect(key).toBeGreaterThan(deadline - SWEEP_BUCKET_MS);
      }
      // On a bucket's first millisecond the key is the deadline itself.
      const boundary = sweepKeyOf(T0, offset) + SWEEP_BUCKET_MS;
      expect(sweepKeyOf(boundary, offset)).toBe(boundary);
      expect(sweepKeyOf(boundary - 1, offset)).toBe(boundary - SWEEP_BUCKET_MS);
    }
  });

  it('moves once a day for a node reporting every 10 s (8,640 heartbeats)', () => {
    for (const offset of offsets) {
      let moves = 0;
      let key = sweepKeyOf(T0 + 30_000, offset);
      for (let beat = 1; beat <= 8_640; beat++) {
        const next = sweepKeyOf(T0 + beat * 10_000 + 30_000, offset);
        if (next !== key) moves++;
        key = next;
      }
      expect(moves).toBe(1);
    }
  });

  it('keeps a node that needs no sweeping out of every sweep', () => {
    for (const offset of offsets)
      expect(sweepKeyOf(NEVER, offset)).toBeGreaterThan(T0 + 100 * 365 * SWEEP_BUCKET_MS);
  });
});
