import type { AppDefenderEvent } from '../api/types.js';

// Parsing 10,000 ISO strings on every chart update adds up; each event object is parsed once.
const parsedTimes = new WeakMap<AppDefenderEvent, number>();

/** The event's time in ms since the epoch (NaN when unparseable), memoised per event object. */
export function eventTimeMs(event: AppDefenderEvent): number {
  let timeMs = parsedTimes.get(event);
  if (timeMs === undefined) {
    timeMs = Date.parse(event.time);
    parsedTimes.set(event, timeMs);
  }
  return timeMs;
}

export interface TimeBucket {
  startMs: number;
  observe: number;
  deny: number;
  network: number;
  filesystem: number;
  process: number;
}

const NICE_BUCKET_MS = [
  60_000,
  5 * 60_000,
  15 * 60_000,
  30 * 60_000,
  60 * 60_000,
  3 * 60 * 60_000,
  6 * 60 * 60_000,
  12 * 60 * 60_000,
  24 * 60 * 60_000,
];

/** The smallest "nice" bucket width that splits the span into at most `maxBuckets` buckets. */
export function chooseBucketMs(spanMs: number, maxBuckets: number): number {
  for (const width of NICE_BUCKET_MS) {
    if (spanMs / width <= maxBuckets) return width;
  }
  const day = NICE_BUCKET_MS[NICE_BUCKET_MS.length - 1]!;
  return Math.ceil(spanMs / maxBuckets / day) * day;
}

/**
 * Counts events into equal time buckets covering [fromMs, toMs], by action and by category.
 * An event's `count` (aggregated repeats) weighs it; events outside the span are ignored.
 */
export function bucketEvents(
  events: readonly AppDefenderEvent[],
  options: { fromMs: number; toMs: number; maxBuckets: number },
): { bucketMs: number; buckets: TimeBucket[] } {
  const span = Math.max(options.toMs - options.fromMs, 60_000);
  const bucketMs = chooseBucketMs(span, options.maxBuckets);
  const firstStart = Math.floor(options.fromMs / bucketMs) * bucketMs;
  const count = Math.floor((options.toMs - firstStart) / bucketMs) + 1;
  const buckets: TimeBucket[] = Array.from({ length: count }, (_, index) => ({
    startMs: firstStart + index * bucketMs,
    observe: 0,
    deny: 0,
    network: 0,
    filesystem: 0,
    process: 0,
  }));
  for (const event of events) {
    const timeMs = eventTimeMs(event);
    if (Number.isNaN(timeMs) || timeMs < options.fromMs || timeMs > options.toMs) continue;
    const bucket = buckets[Math.floor((timeMs - firstStart) / bucketMs)];
    if (!bucket) continue;
    const weight = event.count && event.count > 0 ? event.count : 1;
    if (event.action === 'observe' || event.action === 'deny') bucket[event.action] += weight;
    if (event.category === 'network' || event.category === 'filesystem' || event.category === 'process') {
      bucket[event.category] += weight;
    }
  }
  return { bucketMs, buckets };
}

export interface RankedEntry {
  key: string;
  count: number;
  deny: number;
}

/** The `limit` most frequent keys (ties broken alphabetically so the order is stable). */
export function topBy(
  events: readonly AppDefenderEvent[],
  keyOf: (event: AppDefenderEvent) => string | undefined,
  limit: number,
): RankedEntry[] {
  const totals = new Map<string, RankedEntry>();
  for (const event of events) {
    const key = keyOf(event);
    if (!key) continue;
    const weight = event.count && event.count > 0 ? event.count : 1;
    const entry = totals.get(key) ?? { key, count: 0, deny: 0 };
    entry.count += weight;
    if (event.action === 'deny') entry.deny += weight;
    totals.set(key, entry);
  }
  return [...totals.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)).slice(0, limit);
}

/**
 * The host of a network target (`host:port`, `[v6]:port`, or a bare host for DNS), so that
 * "top domains" groups connections to the same host on different ports.
 */
export function targetKey(event: AppDefenderEvent): string {
  if (event.category !== 'network') return event.target;
  const target = event.target;
  if (target.startsWith('[')) {
    const end = target.indexOf(']');
    return end > 0 ? target.slice(1, end) : target;
  }
  const colons = target.split(':').length - 1;
  if (colons === 1) return target.slice(0, target.indexOf(':'));
  return target;
}
