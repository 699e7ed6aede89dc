import { describe, expect, it } from '@jest/globals';
import { measureRun } from '../../bench/switchover-window';
import type { WriterRecord } from '../../bench/switchover-writer';

/** The switchover benchmark's figures from a writer's record (bench/switchover-window.ts). */
describe('measureRun', () => {
  const OLD = 7001;
  const NEW = 7003;

  it('measures from the sending of the first refused write to the first write the new primary acknowledged', () => {
    const record: WriterRecord = {
      acked: [
        [1, 900, 901, OLD],
        [2, 1001, 1002, OLD],
        [4, 1650, 1660, NEW],
        [5, 1660, 1661, NEW],
      ],
      // Write 3 was held by the pause from 1002 and refused (READONLY) at 1600.
      failed: [[3, 1002, 1600]],
    };
    const run = measureRun(record, 1000, NEW, new Set([1, 2, 4, 5]));
    expect(run).toEqual({ windowMs: 658, lost: 0, acked: 4, from: 'failed' });
  });

  it('counts an acknowledged write missing from the new primary as lost, and ignores failures before the switchover', () => {
    const record: WriterRecord = {
      acked: [
        [2, 950, 951, OLD],
        [3, 1100, 1101, OLD],
        [5, 1300, 1350, NEW],
      ],
      failed: [
        [1, 500, 600],
        [4, 1101, 1200],
      ],
    };
    const run = measureRun(record, 1000, NEW, new Set([2, 5]));
    expect(run).toEqual({ windowMs: 249, lost: 1, acked: 3, from: 'failed' });
  });

  it('takes the write held longest when no write was refused', () => {
    const record: WriterRecord = {
      acked: [
        [1, 990, 991, OLD],
        [2, 991, 1400, NEW],
        [3, 1400, 1401, NEW],
      ],
      failed: [],
    };
    expect(measureRun(record, 1000, NEW, new Set([1, 2, 3]))).toMatchObject({ windowMs: 409, from: 'held' });
  });

  it('fails when the new primary acknowledged nothing', () => {
    const record: WriterRecord = { acked: [[1, 990, 991, OLD]], failed: [[2, 991, 1500]] };
    expect(() => measureRun(record, 1000, NEW, new Set([1]))).toThrow(
      /no write was acknowledged by the new primary/,
    );
  });
});
