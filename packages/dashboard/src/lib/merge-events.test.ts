import { describe, expect, it } from 'vitest';
import type { AppDefenderEvent } from '../api/types.js';
import { mergeNewestFirst } from './merge-events.js';

function event(id: string, second: number): AppDefenderEvent {
  return {
    id,
    time: new Date(Date.UTC(2026, 10, 25, 12, 0, second)).toISOString(),
    category: 'network',
    action: 'observe',
    operation: 'connect',
    target: 'x:1',
    terminated: false,
    policyGroup: 'g',
  };
}

const ids = (events: AppDefenderEvent[]) => events.map((e) => e.id);

describe('mergeNewestFirst', () => {
  it('prepends newer live events, newest first', () => {
    const current = [event('c', 3), event('b', 2), event('a', 1)];
    expect(ids(mergeNewestFirst(current, [event('d', 4), event('e', 5)], 10))).toEqual([
      'e',
      'd',
      'c',
      'b',
      'a',
    ]);
  });

  it('interleaves older pages and out-of-order arrivals by time', () => {
    const current = [event('e', 5), event('c', 3)];
    expect(ids(mergeNewestFirst(current, [event('a', 1), event('d', 4), event('b', 2)], 10))).toEqual([
      'e',
      'd',
      'c',
      'b',
      'a',
    ]);
  });

  it('drops duplicate ids, within the batch and against the list', () => {
    const current = [event('b', 2), event('a', 1)];
    expect(ids(mergeNewestFirst(current, [event('b', 2), event('c', 3), event('c', 3)], 10))).toEqual([
      'c',
      'b',
      'a',
    ]);
  });

  it('keeps at most maxLength of the newest', () => {
    const current = [event('c', 3), event('b', 2), event('a', 1)];
    expect(ids(mergeNewestFirst(current, [event('d', 4)], 2))).toEqual(['d', 'c']);
    expect(ids(mergeNewestFirst(current, [], 2))).toEqual(['c', 'b']);
  });

  it('orders events of the same millisecond by id (UUIDv7 is time-ordered)', () => {
    expect(ids(mergeNewestFirst([], [event('0001', 1), event('0003', 1), event('0002', 1)], 10))).toEqual([
      '0003',
      '0002',
      '0001',
    ]);
  });
});
