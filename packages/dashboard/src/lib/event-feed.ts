import { useCallback, useEffect, useRef, useState } from 'react';
import { api, eventStreamUrl, messageOf } from '../api/client.js';
import type { AppDefenderEvent } from '../api/types.js';
import { type EventFilters, eventMatchesFilters, rangeStart } from './event-filters.js';
import { mergeNewestFirst } from './merge-events.js';

/** How many events one page of the list fetches, and the most kept in memory. */
export const PAGE_SIZE = 1000;
export const MAX_EVENTS_IN_MEMORY = 20_000;

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'off';

export interface EventFeed {
  events: AppDefenderEvent[];
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  loadMore: () => void;
  streamState: StreamState;
  paused: boolean;
  setPaused: (paused: boolean) => void;
  /** Live events received while paused, shown when resuming. */
  pendingCount: number;
  /** Events received live since the page was opened (matching the filters). */
  liveCount: number;
}

function isEvent(value: unknown): value is AppDefenderEvent {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AppDefenderEvent>;
  return (
    typeof candidate.id === 'string' &&
    typeof candidate.time === 'string' &&
    typeof candidate.target === 'string'
  );
}

function serverQuery(filters: EventFilters, nowMs: number) {
  return {
    category: filters.category ?? undefined,
    action: filters.action ?? undefined,
    function: filters.function ?? undefined,
    policyGroup: filters.policyGroup ?? undefined,
    q: filters.text.trim() || undefined,
    since: rangeStart(filters.range, nowMs)?.toISOString(),
  };
}

/**
 * The events list for a set of filters: the newest page from the API, older pages on demand, and
 * live events from the SSE stream. Stream messages are buffered and applied once per animation
 * frame, so a burst of 50 events a second is one React update per frame, not fifty.
 */
export function useEventFeed(filters: EventFilters, options: { live?: boolean } = {}): EventFeed {
  const live = options.live ?? true;
  const [events, setEvents] = useState<AppDefenderEvent[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [streamState, setStreamState] = useState<StreamState>(live ? 'connecting' : 'off');
  const [paused, setPausedState] = useState(false);
  const [pendingCount, setPendingCount] = useState(0);
  const [liveCount, setLiveCount] = useState(0);
  // The stream opens once the first page is in, resuming after its newest event so nothing
  // stored between the page query and the subscription is missed (the server replays it).
  const [streamFrom, setStreamFrom] = useState<{ lastEventId: string | undefined } | null>(null);

  const seenIds = useRef(new Set<string>());
  const incoming = useRef<AppDefenderEvent[]>([]);
  const pending = useRef<AppDefenderEvent[]>([]);
  const pendingTotal = useRef(0);
  const eventsRef = useRef<AppDefenderEvent[]>([]);
  eventsRef.current = events;
  const pausedRef = useRef(false);
  const frame = useRef<number | null>(null);
  const filtersKey = JSON.stringify(filters);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  const flush = useCallback(() => {
    frame.current = null;
    const batch = incoming.current;
    incoming.current = [];
    if (batch.length === 0) return;
    setLiveCount((count) => count + batch.length);
    // Ids are remembered to drop replays and duplicates; past a bound, only those still shown count.
    if (seenIds.current.size > 4 * MAX_EVENTS_IN_MEMORY) {
      seenIds.current = new Set(
        [...eventsRef.current, ...pending.current, ...batch].map((event) => event.id),
      );
    }
    if (pausedRef.current) {
      pending.current.push(...batch);
      pendingTotal.current += batch.length;
      // While paused for long, only the newest events that can be shown are kept.
      if (pending.current.length > MAX_EVENTS_IN_MEMORY)
        pending.current.splice(0, pending.current.length - MAX_EVENTS_IN_MEMORY);
      setPendingCount(pendingTotal.current);
      return;
    }
    setEvents((current) => mergeNewestFirst(current, batch, MAX_EVENTS_IN_MEMORY));
  }, []);

  const setPaused = useCallback((next: boolean) => {
    pausedRef.current = next;
    setPausedState(next);
    if (!next && pending.current.length > 0) {
      const batch = pending.current;
      pending.current = [];
      pendingTotal.current = 0;
      setPendingCount(0);
      setEvents((current) => mergeNewestFirst(current, batch, MAX_EVENTS_IN_MEMORY));
    }
  }, []);

  // The first page: refetched whenever the filters change.
  // biome-ignore lint/correctness/useExhaustiveDependencies: filtersKey stands for filters
  useEffect(() => {
    const controller = { cancelled: false };
    seenIds.current = new Set();
    pending.current = [];
    pendingTotal.current = 0;
    incoming.current = [];
    setPendingCount(0);
    setLiveCount(0);
    setEvents([]);
    setLoading(true);
    setError(null);
    api
      .events({ ...serverQuery(filters, Date.now()), limit: PAGE_SIZE })
      .then((page) => {
        if (controller.cancelled) return;
        const matching = page.events.filter((event) => eventMatchesFilters(event, filters, Date.now()));
        for (const event of matching) seenIds.current.add(event.id);
        setEvents((current) => mergeNewestFirst(current, matching, MAX_EVENTS_IN_MEMORY));
        setNextCursor(page.nextCursor ?? null);
        setStreamFrom((current) => current ?? { lastEventId: page.events[0]?.id });
      })
      .catch((cause: unknown) => {
        setStreamFrom((current) => current ?? { lastEventId: undefined });
        if (!controller.cancelled) setError(messageOf(cause));
      })
      .finally(() => {
        if (!controller.cancelled) setLoading(false);
      });
    return () => {
      controller.cancelled = true;
    };
  }, [filtersKey]);

  // The live stream: one connection for the page's lifetime, filtered here.
  useEffect(() => {
    if (!live || !streamFrom) return;
    const source = new EventSource(eventStreamUrl(streamFrom), { withCredentials: true });
    const receive = (message: MessageEvent<string>) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!isEvent(parsed) || seenIds.current.has(parsed.id)) return;
      seenIds.current.add(parsed.id);
      if (!eventMatchesFilters(parsed, filtersRef.current, Date.now())) return;
      incoming.current.push(parsed);
      if (frame.current === null) frame.current = requestAnimationFrame(flush);
    };
    source.addEventListener('event', receive as EventListener);
    source.addEventListener('message', receive as EventListener);
    source.onopen = () => setStreamState('live');
    source.onerror = () => setStreamState(source.readyState === EventSource.CLOSED ? 'off' : 'reconnecting');
    return () => {
      source.close();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, [live, flush, streamFrom]);

  const loadMore = useCallback(() => {
    if (!nextCursor || loading) return;
    setLoading(true);
    api
      .events({ ...serverQuery(filtersRef.current, Date.now()), limit: PAGE_SIZE, cursor: nextCursor })
      .then((page) => {
        const fresh = page.events.filter(
          (event) =>
            !seenIds.current.has(event.id) && eventMatchesFilters(event, filtersRef.current, Date.now()),
        );
        for (const event of fresh) seenIds.current.add(event.id);
        setEvents((current) => mergeNewestFirst(current, fresh, MAX_EVENTS_IN_MEMORY));
        setNextCursor(page.nextCursor ?? null);
      })
      .catch((cause: unknown) => setError(messageOf(cause)))
      .finally(() => setLoading(false));
  }, [nextCursor, loading]);

  return {
    events,
    loading,
    error,
    hasMore: nextCursor !== null && events.length < MAX_EVENTS_IN_MEMORY,
    loadMore,
    streamState,
    paused,
    setPaused,
    pendingCount,
    liveCount,
  };
}
