/** Event filters from query strings, the same for the list, the stats and the live stream. */
import type { AgentEvent } from '@appdefender/policy';
import { validationFailed } from './errors.js';
import type { EventCursor, EventFilter } from './storage/types.js';

export interface EventFilterQuery {
  category?: string;
  action?: string;
  function?: string;
  policyGroup?: string;
  since?: string;
  until?: string;
  q?: string;
}

/** ISO 8601 date-time or epoch milliseconds → ms; a 400 naming the parameter otherwise. */
export function parseTimeParameter(value: string, name: string): number {
  const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw validationFailed([
      { field: `query.${name}`, message: 'must be an ISO 8601 date-time or epoch milliseconds' },
    ]);
  }
  return ms;
}

export function parseEventFilter(query: EventFilterQuery): EventFilter {
  const filter: EventFilter = {};
  if (query.category !== undefined) filter.category = query.category;
  if (query.action !== undefined) filter.action = query.action;
  if (query.function !== undefined) filter.function = query.function;
  if (query.policyGroup !== undefined) filter.policyGroup = query.policyGroup;
  if (query.q !== undefined) filter.q = query.q;
  if (query.since !== undefined) filter.sinceMs = parseTimeParameter(query.since, 'since');
  if (query.until !== undefined) filter.untilMs = parseTimeParameter(query.until, 'until');
  if (filter.sinceMs !== undefined && filter.untilMs !== undefined && filter.sinceMs >= filter.untilMs) {
    throw validationFailed([{ field: 'query.until', message: 'must be later than since' }]);
  }
  return filter;
}

/** In-memory twin of the storage's WHERE clause, for the live stream. */
export function eventMatches(event: AgentEvent, filter: EventFilter): boolean {
  if (filter.category !== undefined && event.category !== filter.category) return false;
  if (filter.action !== undefined && event.action !== filter.action) return false;
  if (filter.function !== undefined && event.function !== filter.function) return false;
  if (filter.policyGroup !== undefined && event.policyGroup !== filter.policyGroup) return false;
  if (filter.sinceMs !== undefined || filter.untilMs !== undefined) {
    const ms = Date.parse(event.time);
    if (filter.sinceMs !== undefined && ms < filter.sinceMs) return false;
    if (filter.untilMs !== undefined && ms >= filter.untilMs) return false;
  }
  if (filter.q !== undefined && filter.q !== '') {
    const needle = filter.q.toLowerCase();
    const haystacks = [event.target, event.operation, event.function ?? ''];
    if (!haystacks.some((text) => text.toLowerCase().includes(needle))) return false;
  }
  return true;
}

export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(`${cursor.timeMs}.${cursor.seq}`).toString('base64url');
}

export function decodeCursor(text: string): EventCursor {
  const match = /^(-?\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) {
    throw validationFailed([
      { field: 'query.cursor', message: 'is not a cursor from a previous page (nextCursor)' },
    ]);
  }
  return { timeMs: Number(match[1]), seq: Number(match[2]) };
}
