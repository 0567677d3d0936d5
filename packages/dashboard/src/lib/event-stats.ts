import { useEffect, useState } from 'react';
import { api, type EventStats } from '../api/client.js';
import type { TimeBucket } from './event-aggregates.js';
import { type EventFilters, rangeStart } from './event-filters.js';

/**
 * Server-side counts for the filters (every event in the range, not only the loaded pages),
 * refetched when the filters change and whenever `refreshToken` does (the caller throttles it).
 */
export function useEventStats(
  filters: EventFilters,
  retentionDays: number,
  refreshToken: number,
): { stats: EventStats | null; error: string | null } {
  const [stats, setStats] = useState<EventStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const filtersKey = JSON.stringify(filters);
  // biome-ignore lint/correctness/useExhaustiveDependencies: filtersKey stands for filters; refreshToken triggers refetches
  useEffect(() => {
    let cancelled = false;
    const now = Date.now();
    const start = rangeStart(filters.range, now) ?? new Date(now - retentionDays * 86_400_000);
    const bucket = statsBucketFor(now - start.getTime());
    // Buckets start on whole multiples of their width, so the axis reads 14:00, 14:15, …
    const sinceMs = Math.floor(start.getTime() / bucket.ms) * bucket.ms;
    api
      .eventStats({
        since: new Date(sinceMs).toISOString(),
        bucket: bucket.id,
        category: filters.category ?? undefined,
        action: filters.action ?? undefined,
        function: filters.function ?? undefined,
        policyGroup: filters.policyGroup ?? undefined,
        q: filters.text.trim() || undefined,
      })
      .then((result) => {
        if (!cancelled) {
          setStats(result);
          setError(null);
        }
      })
      .catch((cause: unknown) => {
        if (!cancelled) setError(cause instanceof Error ? cause.message : String(cause));
      });
    return () => {
      cancelled = true;
    };
  }, [filtersKey, retentionDays, refreshToken]);
  return { stats, error };
}

// The widths the stats endpoint accepts.
const STATS_BUCKETS = [
  { id: '1m', ms: 60_000 },
  { id: '5m', ms: 300_000 },
  { id: '15m', ms: 900_000 },
  { id: '1h', ms: 3_600_000 },
  { id: '6h', ms: 21_600_000 },
  { id: '1d', ms: 86_400_000 },
] as const;

/** The narrowest accepted bucket giving at most 180 bars for the span. */
export function statsBucketFor(spanMs: number): (typeof STATS_BUCKETS)[number] {
  return (
    STATS_BUCKETS.find((bucket) => spanMs / bucket.ms <= 180) ?? STATS_BUCKETS[STATS_BUCKETS.length - 1]!
  );
}

/** The server's timeline as chart buckets (by action; the server does not split it by category). */
export function timelineBuckets(stats: EventStats): TimeBucket[] {
  return stats.timeline.map((slot) => ({
    startMs: Date.parse(slot.start),
    observe: slot.observe,
    deny: slot.deny,
    network: 0,
    filesystem: 0,
    process: 0,
  }));
}
