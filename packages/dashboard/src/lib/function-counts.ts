import { api } from '../api/client.js';
import type { FunctionRecord } from '../api/types.js';
import { countByFunction } from './event-aggregates.js';

const DAY_MS = 24 * 3600_000;

/** Events of the last 24 hours per function and action: from the function records when the server includes them. */
export async function loadEventCounts24h(
  functions: readonly FunctionRecord[],
): Promise<Map<string, { observe: number; deny: number }>> {
  if (functions.every((fn) => fn.events24h)) {
    return new Map(
      functions.map((fn) => [
        fn.functionName,
        { observe: fn.events24h?.observe ?? 0, deny: fn.events24h?.deny ?? 0 },
      ]),
    );
  }
  const since = new Date(Date.now() - DAY_MS).toISOString();
  const page = await api.events({ since, limit: 1000 });
  return countByFunction(page.events, Date.parse(since));
}
