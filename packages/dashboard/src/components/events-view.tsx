import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import { type AppDefenderEvent, CATEGORIES } from '../api/types.js';
import { bucketEvents, type RankedEntry, targetKey, topBy } from '../lib/event-aggregates.js';
import { useEventFeed } from '../lib/event-feed.js';
import {
  type EventFilters,
  hasActiveFilters,
  parseFilters,
  rangeStart,
  serializeFilters,
} from '../lib/event-filters.js';
import { timelineBuckets, useEventStats } from '../lib/event-stats.js';
import { formatCount } from '../lib/format.js';
import { navigate, useLocation } from '../lib/router.js';
import { useNow } from '../lib/use-now.js';
import { useThrottledValue } from '../lib/use-throttled-value.js';
import { useSession } from '../session.js';
import { BarList, type SeriesKind, TimeChart } from './charts.js';
import { ErrorAlert } from './error-alert.js';
import { EventDrawer } from './event-drawer.js';
import { EventList } from './event-list.js';
import { FilterBar } from './filter-bar.js';
import { Link } from './link.js';
import { LiveControls } from './live-controls.js';
import { RetentionNote } from './retention-note.js';

export interface EventsViewProps {
  /** When set, the view is one function's page: its events only, no function column. */
  fixedFunction?: string;
}

/**
 * Events with filters kept in the URL, live updates, charts and the detail drawer. The open
 * event is in the URL too (`event=<id>`), so a link to it can be shared.
 */
export function EventsView({ fixedFunction }: EventsViewProps) {
  const { me } = useSession();
  const location = useLocation();
  const nowMs = useNow(15_000);
  const urlFilters = useMemo(() => parseFilters(location.search), [location.search]);
  const filters = useMemo<EventFilters>(
    () => (fixedFunction ? { ...urlFilters, function: fixedFunction } : urlFilters),
    [urlFilters, fixedFunction],
  );
  const feed = useEventFeed(filters);
  const [functionNames, setFunctionNames] = useState<string[]>([]);
  const [groupNames, setGroupNames] = useState<string[]>([]);
  const [seriesKind, setSeriesKind] = useState<SeriesKind>('action');
  const openId = new URLSearchParams(location.search).get('event');
  const [openEvent, setOpenEvent] = useState<AppDefenderEvent | null>(null);

  useEffect(() => {
    api
      .functions()
      .then((result) => setFunctionNames([...new Set(result.functions.map((fn) => fn.functionName))].sort()))
      .catch(() => setFunctionNames([]));
    api
      .policyGroups()
      .then((result) => setGroupNames(result.policyGroups.map((group) => group.name).sort()))
      .catch(() => setGroupNames([]));
  }, []);

  // The drawer follows the URL. The event comes from the loaded list, or, for a shared link to
  // one that is not loaded (older than the loaded pages, or outside the filters), from the server
  // once the first page is in.
  const [lookup, setLookup] = useState<{ id: string; error: string | null } | null>(null);
  useEffect(() => {
    if (!openId) {
      setOpenEvent(null);
      setLookup(null);
      return;
    }
    if (openEvent?.id === openId) return;
    const found = feed.events.find((event) => event.id === openId);
    if (found) {
      setOpenEvent(found);
      return;
    }
    if (feed.loading || lookup?.id === openId) return;
    setLookup({ id: openId, error: null });
    api
      .event(openId)
      .then((result) => {
        // The user may have closed it or opened another meanwhile.
        if (new URLSearchParams(window.location.search).get('event') === openId) setOpenEvent(result.event);
      })
      .catch((cause: unknown) =>
        setLookup({
          id: openId,
          error:
            cause instanceof ApiError && cause.status === 404
              ? `Event ${openId} is not in this account: it may be past the plan's retention, or the link is for another account.`
              : `Event ${openId} could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
        }),
      );
  }, [openId, feed.events, feed.loading, openEvent, lookup]);

  const writeUrl = useCallback(
    (next: EventFilters, extra: { event?: string | null } = {}, options: { replace?: boolean } = {}) => {
      const params = new URLSearchParams(
        serializeFilters(fixedFunction ? { ...next, function: null } : next),
      );
      const eventId =
        extra.event === undefined ? new URLSearchParams(window.location.search).get('event') : extra.event;
      if (eventId) params.set('event', eventId);
      const query = params.toString();
      navigate(`${location.path}${query ? `?${query}` : ''}`, options);
    },
    [fixedFunction, location.path],
  );

  const onFiltersChange = useCallback(
    (next: EventFilters, options?: { replace?: boolean }) => writeUrl(next, { event: null }, options),
    [writeUrl],
  );
  const onOpen = useCallback(
    (event: AppDefenderEvent) => {
      setOpenEvent(event);
      writeUrl(filters, { event: event.id });
    },
    [writeUrl, filters],
  );
  const onClose = useCallback(() => {
    setOpenEvent(null);
    if (new URLSearchParams(window.location.search).get('event'))
      writeUrl(filters, { event: null }, { replace: true });
  }, [writeUrl, filters]);

  // Charts follow the list at most once a second: recomputing aggregates over 10,000 events for
  // every live batch would cost frames while the list itself updates every animation frame.
  // Small lists are cheap to aggregate, so they follow at once (no lag after the first page).
  const throttledEvents = useThrottledValue(feed.events, 1000);
  const chartEvents = feed.events.length <= 2000 ? feed.events : throttledEvents;
  const newestMs = chartEvents[0] ? Date.parse(chartEvents[0].time) : 0;
  const toMs = Math.max(nowMs, newestMs);
  const fromMs =
    rangeStart(filters.range, toMs)?.getTime() ??
    Math.max(
      toMs - me.plan.retentionDays * 86_400_000,
      chartEvents.length > 0 ? Date.parse(chartEvents[chartEvents.length - 1]!.time) : toMs - 3600_000,
    );
  const timeline = useMemo(
    () => bucketEvents(chartEvents, { fromMs, toMs, maxBuckets: 48 }),
    [chartEvents, fromMs, toMs],
  );
  // Totals, the action timeline and top functions come from the server (every event in the
  // range); refetched when the filters change and at most every 2 s while live events arrive.
  const statsRefresh = useThrottledValue(feed.liveCount, 2000);
  const { stats } = useEventStats(filters, me.plan.retentionDays, statsRefresh);
  const serverTimeline = useMemo(() => (stats ? timelineBuckets(stats) : null), [stats]);
  const serverTopFunctions = useMemo<RankedEntry[] | null>(
    () =>
      stats
        ? stats.byFunction
            .filter((entry) => entry.function !== null)
            .slice(0, 6)
            .map((entry) => ({ key: entry.function!, count: entry.total, deny: entry.deny }))
        : null,
    [stats],
  );
  const userFiltered = hasActiveFilters(fixedFunction ? { ...filters, function: null } : filters);
  const partial = feed.hasMore;
  const partialNote = partial ? ` (newest ${formatCount(chartEvents.length)} loaded)` : '';
  const tops = useMemo(
    () => ({
      domains: topBy(
        chartEvents.filter((event) => event.category === 'network'),
        targetKey,
        6,
      ),
      paths: topBy(
        chartEvents.filter((event) => event.category === 'filesystem'),
        targetKey,
        6,
      ),
      commands: topBy(
        chartEvents.filter((event) => event.category === 'process'),
        targetKey,
        6,
      ),
      functions: topBy(chartEvents, (event) => event.function, 6),
    }),
    [chartEvents],
  );

  const filterOn = useCallback(
    (field: 'function' | 'policyGroup' | 'text', value: string) => {
      setOpenEvent(null);
      writeUrl({ ...filters, [field]: value }, { event: null });
    },
    [writeUrl, filters],
  );
  const searchFor = useCallback((key: string) => filterOn('text', key), [filterOn]);
  const onlyFunction = useCallback((key: string) => filterOn('function', key), [filterOn]);

  return (
    <div className="events-view">
      <div className="events-toolbar">
        <RetentionNote />
        <LiveControls
          streamState={feed.streamState}
          paused={feed.paused}
          pendingCount={feed.pendingCount}
          onTogglePause={() => feed.setPaused(!feed.paused)}
        />
      </div>
      <FilterBar
        filters={filters}
        onChange={onFiltersChange}
        functionNames={functionNames}
        policyGroupNames={groupNames}
        showFunction={!fixedFunction}
      />
      <section className="charts panel" aria-label="Charts">
        {stats && (
          <dl className="kpis" aria-label="Totals for these filters">
            <div>
              <dt>Events</dt>
              <dd data-testid="kpi-total">{formatCount(stats.total)}</dd>
            </div>
            <div className="kpi-deny">
              <dt>Denied</dt>
              <dd>{formatCount(stats.byAction.deny ?? 0)}</dd>
            </div>
            <div className="kpi-observe">
              <dt>Observed</dt>
              <dd>{formatCount(stats.byAction.observe ?? 0)}</dd>
            </div>
            {!fixedFunction && (
              <div>
                <dt>Functions</dt>
                <dd>{formatCount(stats.byFunction.filter((entry) => entry.function !== null).length)}</dd>
              </div>
            )}
            <div className="kpi-categories">
              <dt>By category</dt>
              <dd>
                {CATEGORIES.map((category) => (
                  <span key={category} className={`cat cat-${category}`}>
                    <span className="kpi-cat-name">{category}</span>{' '}
                    {formatCount(stats.byCategory[category] ?? 0)}
                  </span>
                ))}
              </dd>
            </div>
          </dl>
        )}
        <div className="chart-main">
          <div className="segmented" role="radiogroup" aria-label="Chart series">
            {(['action', 'category'] as const).map((kind) => (
              <label key={kind} className="segment">
                <input
                  type="radio"
                  name="series-kind"
                  value={kind}
                  checked={seriesKind === kind}
                  onChange={() => setSeriesKind(kind)}
                />
                <span>By {kind}</span>
              </label>
            ))}
          </div>
          {seriesKind === 'action' && serverTimeline && stats ? (
            <TimeChart
              buckets={serverTimeline}
              bucketMs={stats.bucketMs}
              kind="action"
              title="Events over time by action"
            />
          ) : (
            <TimeChart
              buckets={timeline.buckets}
              bucketMs={timeline.bucketMs}
              kind={seriesKind}
              title={`Events over time by ${seriesKind}${partialNote}`}
            />
          )}
        </div>
        <div className="tops">
          <BarList
            title={`Top domains${partialNote}`}
            entries={tops.domains}
            empty="No network events."
            onSelect={searchFor}
          />
          <BarList
            title={`Top paths${partialNote}`}
            entries={tops.paths}
            empty="No filesystem events."
            onSelect={searchFor}
          />
          <BarList
            title={`Top commands${partialNote}`}
            entries={tops.commands}
            empty="No process events."
            onSelect={searchFor}
          />
          {!fixedFunction && (
            <BarList
              title="Top functions"
              entries={serverTopFunctions ?? tops.functions}
              empty="No events from functions."
              onSelect={onlyFunction}
              mono={false}
            />
          )}
        </div>
      </section>
      <div className="list-header">
        <h2 className="list-title">
          <span data-testid="event-count">{formatCount(feed.events.length)}</span>{' '}
          {feed.events.length === 1 ? 'event' : 'events'}
          {feed.hasMore && <span className="muted"> (newest first, more available)</span>}
        </h2>
        <ErrorAlert message={feed.error} />
        {lookup?.error && lookup.id === openId && (
          <p className="form-error" role="alert" data-testid="event-lookup-error">
            {lookup.error}{' '}
            <button type="button" className="button small" onClick={onClose}>
              Dismiss
            </button>
          </p>
        )}
      </div>
      {feed.events.length === 0 && !feed.loading ? (
        <div className="empty panel">
          <h3>{userFiltered ? 'No events match these filters' : 'No events yet'}</h3>
          <p className="muted">
            Events appear here the moment a protected function observes or denies something (grants make no
            events).
            {!userFiltered && !fixedFunction && (
              <>
                {' '}
                Not protecting a function yet? <Link href="/setup">Set one up</Link>.
              </>
            )}
          </p>
        </div>
      ) : (
        <EventList
          events={feed.events}
          onOpen={onOpen}
          selectedId={openEvent?.id ?? null}
          nowMs={nowMs}
          label="Events, newest first"
          showFunction={!fixedFunction}
          footer={
            feed.hasMore ? (
              <div className="list-footer">
                <button
                  type="button"
                  className="button small"
                  onClick={feed.loadMore}
                  disabled={feed.loading}
                >
                  {feed.loading ? 'Loading…' : 'Load older events'}
                </button>
              </div>
            ) : null
          }
        />
      )}
      <EventDrawer event={openEvent} nowMs={nowMs} onClose={onClose} onFilter={filterOn} />
    </div>
  );
}
