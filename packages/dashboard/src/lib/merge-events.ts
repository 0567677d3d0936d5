import type { AppDefenderEvent } from '../api/types.js';
import { eventTimeMs } from './event-aggregates.js';

function newerFirst(a: AppDefenderEvent, b: AppDefenderEvent): number {
  const byTime = eventTimeMs(b) - eventTimeMs(a);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  // Ids are UUIDv7, so they order events that share a millisecond.
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Merges `incoming` into `current` (already newest first), dropping duplicate ids and keeping at
 * most `maxLength` of the newest. Linear in the two lengths: live batches arrive every frame.
 */
export function mergeNewestFirst(
  current: readonly AppDefenderEvent[],
  incoming: readonly AppDefenderEvent[],
  maxLength: number,
): AppDefenderEvent[] {
  if (incoming.length === 0) return current.length > maxLength ? current.slice(0, maxLength) : [...current];
  const sortedIncoming = [...incoming].sort(newerFirst);
  const oldestIncoming = sortedIncoming[sortedIncoming.length - 1]!;
  const newestCurrent = current[0];
  if (!newestCurrent || newerFirst(oldestIncoming, newestCurrent) < 0) {
    // The live case: everything new is newer than everything shown, so no full merge is needed.
    const ids = new Set<string>();
    const fresh = sortedIncoming.filter((event) => !ids.has(event.id) && ids.add(event.id));
    return fresh.concat(current.slice(0, Math.max(0, maxLength - fresh.length))).slice(0, maxLength);
  }
  const seen = new Set<string>();
  const merged: AppDefenderEvent[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < maxLength && (i < current.length || j < sortedIncoming.length)) {
    const left = current[i];
    const right = sortedIncoming[j];
    let next: AppDefenderEvent;
    if (left && (!right || newerFirst(left, right) <= 0)) {
      next = left;
      i++;
    } else {
      next = right!;
      j++;
    }
    if (seen.has(next.id)) continue;
    seen.add(next.id);
    merged.push(next);
  }
  return merged;
}
