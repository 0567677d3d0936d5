import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from './rate-limiter.js';

describe('TokenBucketLimiter', () => {
  it('allows the burst, then refills at the rate, per key', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 20, now: () => now });
    expect(limiter.take('a', 20)).toEqual({ allowed: true });
    expect(limiter.take('a', 1)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('b', 20)).toEqual({ allowed: true });
    now += 500;
    expect(limiter.take('a', 5)).toEqual({ allowed: true });
    expect(limiter.take('a', 1)).toMatchObject({ allowed: false });
    now += 100_000;
    expect(limiter.take('a', 20)).toEqual({ allowed: true });
  });

  it('says how long to wait, in whole seconds', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 10, now: () => 0 });
    limiter.take('k', 10);
    expect(limiter.take('k', 7)).toEqual({ allowed: false, retryAfterSeconds: 4 });
  });

  it('refuses nonsensical settings', () => {
    expect(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ ratePerSecond: 1, burst: -1 })).toThrow(RangeError);
  });
});
