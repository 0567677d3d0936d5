import { describe, expect, it } from 'vitest';
import type { AppDefenderEvent } from '../api/types.js';
import { bucketEvents, chooseBucketMs, targetKey, topBy } from './event-aggregates.js';
import { statsBucketFor } from './event-stats.js';

let seq = 0;
function event(overrides: Partial<AppDefenderEvent>): AppDefenderEvent {
  seq++;
  return {
    id: `id-${seq}`,
    time: '2026-11-25T12:00:00.000Z',
    category: 'network',
    action: 'observe',
    operation: 'connect',
    target: 'example.com:443',
    terminated: false,
    policyGroup: 'g',
    ...overrides,
  };
}

describe('chooseBucketMs', () => {
  it.each([
    [15 * 60_000, 48, 60_000],
    [3600_000, 48, 5 * 60_000],
    [24 * 3600_000, 48, 30 * 60_000],
    [7 * 24 * 3600_000, 48, 6 * 3600_000],
    [30 * 24 * 3600_000, 48, 24 * 3600_000],
    [365 * 24 * 3600_000, 48, 8 * 24 * 3600_000],
  ])('splits %d ms into at most %d buckets of %d ms', (span, max, expected) => {
    expect(chooseBucketMs(span, max)).toBe(expected);
    expect(span / expected).toBeLessThanOrEqual(max);
  });
});

describe('bucketEvents', () => {
  const fromMs = Date.parse('2026-11-25T11:00:00.000Z');
  const toMs = Date.parse('2026-11-25T12:00:00.000Z');

  it('counts by action and category, weighted by count, ignoring events outside the span', () => {
    const { bucketMs, buckets } = bucketEvents(
      [
        event({ time: '2026-11-25T11:00:10.000Z', action: 'deny', category: 'process' }),
        event({ time: '2026-11-25T11:04:59.999Z', action: 'observe', category: 'network', count: 3 }),
        event({ time: '2026-11-25T11:05:00.000Z', action: 'observe', category: 'filesystem' }),
        event({ time: '2026-11-25T12:00:00.000Z', action: 'deny', category: 'network' }),
        event({ time: '2026-11-25T10:59:59.999Z' }),
        event({ time: '2026-11-25T12:00:00.001Z' }),
        event({ time: 'not a date' }),
      ],
      { fromMs, toMs, maxBuckets: 12 },
    );
    expect(bucketMs).toBe(5 * 60_000);
    expect(buckets).toHaveLength(13);
    expect(buckets[0]).toEqual({
      startMs: fromMs,
      observe: 3,
      deny: 1,
      network: 3,
      filesystem: 0,
      process: 1,
    });
    expect(buckets[1]).toMatchObject({ observe: 1, filesystem: 1 });
    expect(buckets[12]).toMatchObject({ startMs: toMs, deny: 1, network: 1 });
    const total = buckets.reduce((sum, bucket) => sum + bucket.observe + bucket.deny, 0);
    expect(total).toBe(6);
  });

  it('aligns buckets to whole widths so they do not shift as time passes', () => {
    const { buckets } = bucketEvents([], { fromMs: fromMs + 90_000, toMs: toMs + 90_000, maxBuckets: 12 });
    expect(buckets[0]?.startMs).toBe(fromMs);
  });
});

describe('topBy and targetKey', () => {
  it('ranks by weighted count, ties alphabetically, and counts denies', () => {
    const events = [
      event({ target: 'b.example:443' }),
      event({ target: 'b.example:80', action: 'deny' }),
      event({ target: 'a.example:443', count: 2 }),
      event({ target: 'c.example:443' }),
    ];
    expect(topBy(events, targetKey, 2)).toEqual([
      { key: 'a.example', count: 2, deny: 0 },
      { key: 'b.example', count: 2, deny: 1 },
    ]);
  });

  it.each([
    ['network', 'api.stripe.com:443', 'api.stripe.com'],
    ['network', '[2001:db8::1]:443', '2001:db8::1'],
    ['network', '2001:db8::1', '2001:db8::1'],
    ['network', 'api.stripe.com', 'api.stripe.com'],
    ['filesystem', '/tmp/a:b', '/tmp/a:b'],
    ['process', 'git status', 'git status'],
  ] as const)('the %s target %s groups under %s', (category, target, expected) => {
    expect(targetKey(event({ category, target }))).toBe(expected);
  });
});

describe('statsBucketFor', () => {
  it.each([
    [15 * 60_000, '1m'],
    [3600_000, '1m'],
    [24 * 3600_000, '15m'],
    [7 * 24 * 3600_000, '1h'],
    [30 * 24 * 3600_000, '6h'],
    [365 * 24 * 3600_000, '1d'],
  ])('a span of %d ms uses %s buckets', (span, expected) => {
    expect(statsBucketFor(span).id).toBe(expected);
  });
});
