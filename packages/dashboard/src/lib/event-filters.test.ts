import { describe, expect, it } from 'vitest';
import type { AppDefenderEvent } from '../api/types.js';
import {
  DEFAULT_FILTERS,
  eventMatchesFilters,
  parseFilters,
  rangeStart,
  serializeFilters,
} from './event-filters.js';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');

function event(overrides: Partial<AppDefenderEvent> = {}): AppDefenderEvent {
  return {
    id: '0193-a',
    time: '2026-11-25T11:59:00.000Z',
    category: 'network',
    action: 'deny',
    operation: 'connect',
    target: 'api.evil.example:443',
    terminated: false,
    policyGroup: 'payments-strict',
    function: 'checkout',
    ...overrides,
  };
}

describe('filters in the URL', () => {
  it.each([
    ['', DEFAULT_FILTERS],
    [
      'category=network&action=deny&function=checkout&policyGroup=strict&range=7d&q=stripe',
      {
        category: 'network',
        action: 'deny',
        function: 'checkout',
        policyGroup: 'strict',
        range: '7d',
        text: 'stripe',
      },
    ],
    ['category=gpu&action=allow&range=2y', DEFAULT_FILTERS],
    ['?function=a%26b&q=%2Ftmp%2Fx', { ...DEFAULT_FILTERS, function: 'a&b', text: '/tmp/x' }],
  ])('parses %j', (search, expected) => {
    expect(parseFilters(search)).toEqual(expected);
  });

  it('round-trips every filter and leaves defaults out of the URL', () => {
    const filters = {
      category: 'filesystem',
      action: 'observe',
      function: 'fn with spaces',
      policyGroup: 'g&h',
      range: '1h',
      text: 'a=b',
    } as const;
    const search = serializeFilters(filters);
    expect(parseFilters(search)).toEqual(filters);
    expect(serializeFilters(DEFAULT_FILTERS)).toBe('');
    expect(serializeFilters({ ...DEFAULT_FILTERS, text: '   ' })).toBe('');
  });

  it('keeps keys in a stable order so equal filters give equal URLs', () => {
    expect(serializeFilters({ ...DEFAULT_FILTERS, text: 'x', category: 'process' })).toBe(
      'category=process&q=x',
    );
  });
});

describe('rangeStart', () => {
  it('subtracts the range and has no start for "all retained"', () => {
    expect(rangeStart('1h', NOW)?.toISOString()).toBe('2026-11-25T11:00:00.000Z');
    expect(rangeStart('all', NOW)).toBeNull();
  });
});

describe('eventMatchesFilters', () => {
  it.each([
    [{}, true],
    [{ category: 'network' }, true],
    [{ category: 'process' }, false],
    [{ action: 'observe' }, false],
    [{ function: 'checkout' }, true],
    [{ function: 'other' }, false],
    [{ policyGroup: 'payments-strict' }, true],
    [{ policyGroup: 'x' }, false],
    [{ text: 'EVIL' }, true],
    [{ text: 'connect' }, true],
    [{ text: 'checkout' }, true],
    [{ text: 'stripe' }, false],
    [{ range: '15m' }, true],
  ] as const)('with %j gives %s', (overrides, expected) => {
    expect(eventMatchesFilters(event(), { ...DEFAULT_FILTERS, ...overrides }, NOW)).toBe(expected);
  });

  it('drops events older than the range', () => {
    const old = event({ time: '2026-11-25T11:00:00.000Z' });
    expect(eventMatchesFilters(old, { ...DEFAULT_FILTERS, range: '15m' }, NOW)).toBe(false);
    expect(eventMatchesFilters(old, { ...DEFAULT_FILTERS, range: '1h' }, NOW)).toBe(true);
  });
});
