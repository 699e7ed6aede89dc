import { describe, expect, it } from '@jest/globals';
import type { Engine } from '../../functions/core/position';
import { advanceSourceHead, type SourceHead } from '../../functions/core/source-head';
import type { SourceHeadEvent } from '../../functions/core/wire';

const T0 = Date.UTC(2026, 10, 22, 23, 0, 0);
const REPLID_1 = '8f0e2a1c3b4d5e6f708192a3b4c5d6e7f8091a2b';
const REPLID_2 = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const MYSQL_UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function event(position: string, committedAtMs: number, engine: Engine = 'postgresql'): SourceHeadEvent {
  return { clusterId: 'orders-pg', engine, stream: 'debezium', position, committedAtMs };
}

function head(
  position: string,
  committedAt: number,
  version: number,
  engine: Engine = 'postgresql',
): SourceHead {
  return Object.freeze({
    clusterId: 'orders-pg',
    stream: 'debezium',
    engine,
    position,
    committedAt,
    version,
  });
}

/** Every ordering of `items`. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('advanceSourceHead', () => {
  it('creates the first head, at version 1, from the first event of a stream', () => {
    // Prepare
    const events = [event('0/16E9058', T0)];

    // Act
    const next = advanceSourceHead(undefined, events);

    // Assess
    expect(next).toEqual({
      clusterId: 'orders-pg',
      stream: 'debezium',
      engine: 'postgresql',
      position: '0/16E9058',
      committedAt: T0,
      version: 1,
    });
  });

  it('moves the head forward to a later position and increments the version', () => {
    const next = advanceSourceHead(head('0/16E9058', T0, 7), [event('0/16E9100', T0 + 1_000)]);

    expect(next).toEqual({
      clusterId: 'orders-pg',
      stream: 'debezium',
      engine: 'postgresql',
      position: '0/16E9100',
      committedAt: T0 + 1_000,
      version: 8,
    });
  });

  it.each<[what: string, position: string, committedAtMs: number]>([
    ['a duplicate of the head', '0/16E9058', T0],
    ['the same position committed later', '0/16E9058', T0 + 5_000],
    ['an older position delivered late', '0/16E8000', T0 - 5_000],
    ['an older position with a later commit time', '0/16E8000', T0 + 5_000],
  ])('changes nothing for %s', (_what, position, committedAtMs) => {
    const next = advanceSourceHead(head('0/16E9058', T0, 3), [event(position, committedAtMs)]);

    expect(next).toBeUndefined();
  });

  it('changes nothing for an empty batch, with or without a head', () => {
    expect(advanceSourceHead(undefined, [])).toBeUndefined();
    expect(advanceSourceHead(head('0/16E9058', T0, 3), [])).toBeUndefined();
  });

  it('follows the position, not the clock, when positions are comparable', () => {
    const next = advanceSourceHead(head('0/100', T0, 1), [event('0/200', T0 - 1_000)]);

    expect(next).toMatchObject({ position: '0/200', committedAt: T0 - 1_000, version: 2 });
  });

  it.each(permutations(['0/100', '0/300', '0/200']))(
    'ends a batch at its highest position whatever the order (%s, %s, %s)',
    (...positions) => {
      const commitTime = (position: string) => T0 + Number.parseInt(position.slice(2), 16);
      const events = positions.map((position) => event(position, commitTime(position)));

      const next = advanceSourceHead(head('0/50', T0, 10), events);

      expect(next).toEqual(head('0/300', commitTime('0/300'), 11));
    },
  );

  it('increments the version by exactly one per call, however many events moved the head', () => {
    const batch = [1, 2, 3, 4, 5].map((i) => event(`0/${i}00`, T0 + i));

    const first = advanceSourceHead(head('0/50', T0, 41), batch);
    const second = first && advanceSourceHead(first, [event('0/600', T0 + 6), event('0/700', T0 + 7)]);

    expect(first?.version).toBe(42);
    expect(second).toEqual(head('0/700', T0 + 7, 43));
  });

  it('starts from the highest event of the first batch at version 1', () => {
    const next = advanceSourceHead(undefined, [event('0/300', T0 + 3), event('0/100', T0 + 1)]);

    expect(next).toEqual(head('0/300', T0 + 3, 1));
  });

  it('does not modify the previous head', () => {
    const prev = head('0/100', T0, 1);

    advanceSourceHead(prev, [event('0/200', T0 + 1)]);

    expect(prev).toEqual(head('0/100', T0, 1));
  });

  describe('when positions cannot be compared', () => {
    const redisHead = head(`${REPLID_1}:5000`, T0, 4, 'redis');

    it('moves to the position of a new Redis replication id committed later', () => {
      const next = advanceSourceHead(redisHead, [event(`${REPLID_2}:10`, T0 + 1_000, 'redis')]);

      expect(next).toEqual(head(`${REPLID_2}:10`, T0 + 1_000, 5, 'redis'));
    });

    it.each<[what: string, committedAtMs: number]>([
      ['earlier', T0 - 1_000],
      ['at the same time', T0],
    ])('keeps the head when the new replication id was committed %s', (_what, committedAtMs) => {
      const next = advanceSourceHead(redisHead, [event(`${REPLID_2}:999999`, committedAtMs, 'redis')]);

      expect(next).toBeUndefined();
    });

    it('still compares offsets under the same replication id after a switch in the same batch', () => {
      const next = advanceSourceHead(redisHead, [
        event(`${REPLID_2}:10`, T0 + 1_000, 'redis'),
        event(`${REPLID_2}:500`, T0 + 2_000, 'redis'),
        event(`${REPLID_2}:200`, T0 + 3_000, 'redis'),
      ]);

      expect(next).toEqual(head(`${REPLID_2}:500`, T0 + 2_000, 5, 'redis'));
    });

    it('moves from a binlog coordinate to a later GTID set (GTIDs turned on)', () => {
      const next = advanceSourceHead(head('mysql-bin.000003:154', T0, 2, 'mysql'), [
        event(`${MYSQL_UUID}:1-23`, T0 + 1_000, 'mysql'),
      ]);

      expect(next).toEqual(head(`${MYSQL_UUID}:1-23`, T0 + 1_000, 3, 'mysql'));
    });

    it('moves to an event of another engine only when it was committed later', () => {
      const later = advanceSourceHead(head('0/100', T0, 2), [event('102934', T0 + 1, 'doris')]);
      const same = advanceSourceHead(head('0/100', T0, 2), [event('102934', T0, 'doris')]);

      expect(later).toEqual(head('102934', T0 + 1, 3, 'doris'));
      expect(same).toBeUndefined();
    });
  });
});
