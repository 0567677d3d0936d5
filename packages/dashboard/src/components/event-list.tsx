import { useVirtualizer } from '@tanstack/react-virtual';
import { type KeyboardEvent, memo, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { AppDefenderEvent } from '../api/types.js';
import { formatEventTime } from '../lib/format.js';

export const ROW_HEIGHT = 34;

export interface EventListProps {
  events: AppDefenderEvent[];
  onOpen: (event: AppDefenderEvent) => void;
  selectedId: string | null;
  nowMs: number;
  /** Accessible name of the table. */
  label: string;
  /** Show the function column (hidden on a function's own page). */
  showFunction?: boolean;
  footer?: React.ReactNode;
}

/**
 * The events table, virtualised: only the rows in view (plus a few) are in the DOM, so 10,000
 * events scroll as smoothly as 10. When live rows arrive above while the user reads further down,
 * the scroll position moves with them, so the rows being read stay put.
 */
export function EventList({
  events,
  onOpen,
  selectedId,
  nowMs,
  label,
  showFunction = true,
  footer,
}: EventListProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [activeIndex, setActiveIndex] = useState(0);
  const focusPending = useRef(false);
  const virtualizer = useVirtualizer({
    count: events.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    // No getItemKey: rows have one fixed height, so positions depend on the count alone and are
    // not recomputed for all 10,000 rows on every render (React keys rows by event id below).
  });

  // Keep the reader's place when newer rows are prepended.
  const firstId = useRef<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the rows change; the offset is read, not watched
  useLayoutEffect(() => {
    const previousFirst = firstId.current;
    firstId.current = events[0]?.id ?? null;
    const element = scrollRef.current;
    // The virtualizer tracks the offset from scroll events; reading element.scrollTop here would
    // force a synchronous layout on every live batch.
    if (!element || !previousFirst || (virtualizer.scrollOffset ?? 0) < ROW_HEIGHT / 2) return;
    let shift = 0;
    while (shift < events.length && events[shift]!.id !== previousFirst) shift++;
    if (shift > 0 && shift < events.length) {
      element.scrollTop = (virtualizer.scrollOffset ?? 0) + shift * ROW_HEIGHT;
      setActiveIndex((index) => index + shift);
    }
  }, [events]);

  useEffect(() => {
    if (activeIndex >= events.length && events.length > 0) setActiveIndex(events.length - 1);
  }, [activeIndex, events.length]);

  useEffect(() => {
    if (!focusPending.current) return;
    const row = scrollRef.current?.querySelector<HTMLElement>(`[data-index="${activeIndex}"]`);
    if (row) {
      row.focus({ preventScroll: true });
      focusPending.current = false;
    }
  });

  const moveTo = (index: number) => {
    const next = Math.max(0, Math.min(events.length - 1, index));
    setActiveIndex(next);
    focusPending.current = true;
    virtualizer.scrollToIndex(next, { align: 'auto' });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTableSectionElement>) => {
    if (!(event.target as HTMLElement).matches('tr')) return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 300) / ROW_HEIGHT) - 2);
    let next: number;
    switch (event.key) {
      case 'ArrowDown':
        next = activeIndex + 1;
        break;
      case 'ArrowUp':
        next = activeIndex - 1;
        break;
      case 'PageDown':
        next = activeIndex + page;
        break;
      case 'PageUp':
        next = activeIndex - page;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = events.length - 1;
        break;
      case 'Enter':
      case ' ': {
        event.preventDefault();
        const current = events[activeIndex];
        if (current) onOpen(current);
        return;
      }
      default:
        return;
    }
    event.preventDefault();
    moveTo(next);
  };

  const items = virtualizer.getVirtualItems();
  const topSpace = items[0]?.start ?? 0;
  const bottomSpace = Math.max(0, virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0));

  return (
    <div ref={scrollRef} className={`event-table${showFunction ? '' : ' no-function'}`}>
      <table aria-label={label} aria-rowcount={events.length + 1}>
        <thead>
          <tr className="event-row head" aria-rowindex={1}>
            <th scope="col">Time</th>
            <th scope="col">Action</th>
            <th scope="col" className="col-category">
              Category
            </th>
            <th scope="col" className="col-operation">
              Operation
            </th>
            <th scope="col">Target</th>
            {showFunction && (
              <th scope="col" className="col-function">
                Function
              </th>
            )}
            <th scope="col" className="col-group">
              Policy group
            </th>
            <th scope="col" className="col-module">
              Module
            </th>
          </tr>
        </thead>
        <tbody onKeyDown={onKeyDown}>
          {/* Spacer rows stand in for the rows out of view. Rows stay in normal flow, so a live
              batch changes two spacer heights instead of restyling every visible row. */}
          {/* biome-ignore lint/a11y/noAriaHiddenOnFocusable: an empty spacer row, never focusable */}
          <tr className="spacer" aria-hidden="true" style={{ height: topSpace }} />
          {items.map((item) => {
            const event = events[item.index];
            if (!event) return null;
            return (
              <EventRow
                key={event.id}
                event={event}
                index={item.index}
                active={item.index === activeIndex}
                selected={event.id === selectedId}
                nowMs={nowMs}
                showFunction={showFunction}
                onOpen={onOpen}
                onFocusRow={setActiveIndex}
              />
            );
          })}
          {/* biome-ignore lint/a11y/noAriaHiddenOnFocusable: an empty spacer row, never focusable */}
          <tr className="spacer" aria-hidden="true" style={{ height: bottomSpace }} />
        </tbody>
      </table>
      {footer}
    </div>
  );
}

interface EventRowProps {
  event: AppDefenderEvent;
  index: number;
  active: boolean;
  selected: boolean;
  nowMs: number;
  showFunction: boolean;
  onOpen: (event: AppDefenderEvent) => void;
  onFocusRow: (index: number) => void;
}

const EventRow = memo(function EventRow({
  event,
  index,
  active,
  selected,
  nowMs,
  showFunction,
  onOpen,
  onFocusRow,
}: EventRowProps) {
  return (
    // Rows are focusable with one tab stop for the table (roving tabindex); the tbody handles the keys.
    <tr
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-index={index}
      data-event-id={event.id}
      tabIndex={active ? 0 : -1}
      className={`event-row${selected ? ' selected' : ''}${event.action === 'deny' ? ' is-deny' : ''}`}
      onClick={() => onOpen(event)}
      onFocus={() => onFocusRow(index)}
    >
      <td className="col-time">
        <time dateTime={event.time}>{formatEventTime(event.time, nowMs)}</time>
      </td>
      <td>
        <span className={`badge action-${event.action}`}>{event.action}</span>
        {event.terminated && (
          <span className="badge terminated" title="The process was terminated">
            <span aria-hidden="true">✕</span>
            <span className="sr-only">terminated</span>
          </span>
        )}
      </td>
      <td className="col-category">
        <span className={`cat cat-${event.category}`}>{event.category}</span>
      </td>
      <td className="col-operation mono">{event.operation}</td>
      <td className="col-target mono" title={event.target}>
        {event.target}
        {event.count && event.count > 1 ? <span className="count">×{event.count}</span> : null}
      </td>
      {showFunction && (
        <td className="col-function" title={event.function}>
          {event.function ?? '—'}
        </td>
      )}
      <td className="col-group" title={event.policyGroup}>
        {event.policyGroup}
      </td>
      <td className="col-module mono" title={event.module?.name}>
        {event.module?.name ?? '—'}
      </td>
    </tr>
  );
});
