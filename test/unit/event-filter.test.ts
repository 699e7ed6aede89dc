import { describe, expect, it } from '@jest/globals';
import { TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { matchesFilter } from '../../local/event-filter';

const record = (eventName: string, newImage?: Record<string, unknown>) => ({
  eventName,
  dynamodb: newImage ? { NewImage: newImage } : {},
});

describe('the on-transition event filter, as local mode applies it', () => {
  it.each([
    [
      'a node write that changed the status',
      record('MODIFY', { type: { S: 'node' }, transitionTo: { S: 'STALLED' } }),
      true,
    ],
    ['a new node', record('INSERT', { type: { S: 'node' }, transitionTo: { S: 'HEALTHY' } }), true],
    [
      'a node write that did not change the status',
      record('MODIFY', { type: { S: 'node' }, status: { S: 'HEALTHY' } }),
      false,
    ],
    ['a deleted node', record('REMOVE', { type: { S: 'node' }, transitionTo: { S: 'SILENT' } }), false],
    ['an incident item', record('MODIFY', { type: { S: 'incident' }, transitionTo: { S: 'X' } }), false],
    ['a record without a new image', record('MODIFY'), false],
    [
      'a transition marker of the wrong type',
      record('MODIFY', { type: { S: 'node' }, transitionTo: { N: '1' } }),
      false,
    ],
  ])('%s: %s', (_name, event, expected) => {
    expect(matchesFilter(TRANSITION_FILTER_PATTERN, event)).toBe(expected);
  });

  it('supports exists: false and literal lists', () => {
    const pattern = { a: ['x', 'y'], b: { c: [{ exists: false }] } } as const;
    expect(matchesFilter(pattern, { a: 'y' })).toBe(true);
    expect(matchesFilter(pattern, { a: 'y', b: { c: 1 } })).toBe(false);
    expect(matchesFilter(pattern, { a: 'z' })).toBe(false);
  });
});
