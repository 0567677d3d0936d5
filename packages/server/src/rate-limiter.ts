/**
 * In-memory token buckets, one per key (a license key hash, a client IP). Each bucket holds up
 * to `burst` tokens and refills at `ratePerSecond`; a request costs tokens (an event batch costs
 * one token per event). Per instance, not shared between instances: a key spread over N
 * instances gets up to N times the rate, which is fine for a protective limit.
 */
export interface TokenBucketOptions {
  ratePerSecond: number;
  burst: number;
  now?: () => number;
  /** Buckets idle this long are forgotten (they would be full anyway). */
  idleEvictMs?: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBucketLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #idleEvictMs: number;
  #lastSweepMs = 0;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst > 0)) {
      throw new RangeError('token bucket needs ratePerSecond > 0 and burst > 0');
    }
    this.#ratePerMs = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#now = options.now ?? Date.now;
    this.#idleEvictMs = options.idleEvictMs ?? 10 * 60_000;
  }

  /** Takes `cost` tokens from `key`'s bucket if it has them. */
  take(key: string, cost = 1): TakeResult {
    const now = this.#now();
    this.#sweep(now);
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, updatedMs: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedMs) * this.#ratePerMs);
    bucket.updatedMs = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true };
    }
    const waitMs = (Math.min(cost, this.#burst) - bucket.tokens) / this.#ratePerMs;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  #sweep(now: number): void {
    if (now - this.#lastSweepMs < this.#idleEvictMs) return;
    this.#lastSweepMs = now;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedMs > this.#idleEvictMs) this.#buckets.delete(key);
    }
  }
}
