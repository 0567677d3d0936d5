import type { Action, AppDefenderEvent, Category } from '../api/types.js';
import { ACTIONS, CATEGORIES } from '../api/types.js';

/** Time ranges offered by the events page; `all` means "everything the plan still keeps". */
export const TIME_RANGES = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 60 * 60_000 },
  { id: '24h', label: 'Last 24 hours', ms: 24 * 60 * 60_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 24 * 60 * 60_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 24 * 60 * 60_000 },
  { id: 'all', label: 'All retained', ms: null },
] as const;

export type TimeRangeId = (typeof TIME_RANGES)[number]['id'];

/** What the events page is filtered by; kept in the URL so a view can be shared and reloaded. */
export interface EventFilters {
  category: Category | null;
  action: Action | null;
  function: string | null;
  policyGroup: string | null;
  range: TimeRangeId;
  text: string;
}

export const DEFAULT_FILTERS: EventFilters = {
  category: null,
  action: null,
  function: null,
  policyGroup: null,
  range: '24h',
  text: '',
};

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;
}

/** Reads filters from a query string; unknown or malformed values fall back to the defaults. */
export function parseFilters(search: string | URLSearchParams): EventFilters {
  const params = typeof search === 'string' ? new URLSearchParams(search) : search;
  const rangeIds = TIME_RANGES.map((range) => range.id);
  return {
    category: oneOf(params.get('category'), CATEGORIES),
    action: oneOf(params.get('action'), ACTIONS),
    function: params.get('function') || null,
    policyGroup: params.get('policyGroup') || null,
    range: oneOf(params.get('range'), rangeIds) ?? DEFAULT_FILTERS.range,
    text: params.get('q') ?? '',
  };
}

/** Writes filters to a query string, leaving defaults out so URLs stay short. Keys are stable. */
export function serializeFilters(filters: EventFilters): string {
  const params = new URLSearchParams();
  if (filters.category) params.set('category', filters.category);
  if (filters.action) params.set('action', filters.action);
  if (filters.function) params.set('function', filters.function);
  if (filters.policyGroup) params.set('policyGroup', filters.policyGroup);
  if (filters.range !== DEFAULT_FILTERS.range) params.set('range', filters.range);
  if (filters.text.trim()) params.set('q', filters.text.trim());
  return params.toString();
}

/** The instant the range starts at, or null for "all retained". */
export function rangeStart(range: TimeRangeId, nowMs: number): Date | null {
  const entry = TIME_RANGES.find((candidate) => candidate.id === range);
  return entry?.ms ? new Date(nowMs - entry.ms) : null;
}

// The same fields the control plane searches with `q`, so live rows and listed rows agree.
function searchableText(event: AppDefenderEvent): string {
  return [event.target, event.operation, event.function ?? ''].join('\n').toLowerCase();
}

/**
 * Whether an event passes the filters. Used for live events (the stream is not filtered by the
 * server) and as a safety net for list results, so what is shown always matches what is asked.
 */
export function eventMatchesFilters(event: AppDefenderEvent, filters: EventFilters, nowMs: number): boolean {
  if (filters.category && event.category !== filters.category) return false;
  if (filters.action && event.action !== filters.action) return false;
  if (filters.function && event.function !== filters.function) return false;
  if (filters.policyGroup && event.policyGroup !== filters.policyGroup) return false;
  const start = rangeStart(filters.range, nowMs);
  if (start && Date.parse(event.time) < start.getTime()) return false;
  const text = filters.text.trim().toLowerCase();
  if (text && !searchableText(event).includes(text)) return false;
  return true;
}

export function hasActiveFilters(filters: EventFilters): boolean {
  return serializeFilters({ ...filters, range: DEFAULT_FILTERS.range }) !== '';
}
