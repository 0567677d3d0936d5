import { useEffect, useId, useState } from 'react';
import { ACTIONS, CATEGORIES } from '../api/types.js';
import { type EventFilters, hasActiveFilters, TIME_RANGES, type TimeRangeId } from '../lib/event-filters.js';

export interface FilterBarProps {
  filters: EventFilters;
  onChange: (filters: EventFilters, options?: { replace?: boolean }) => void;
  functionNames: string[];
  policyGroupNames: string[];
  /** Hide the function filter on a function's own page. */
  showFunction?: boolean;
}

function withCurrent(names: string[], current: string | null): string[] {
  return current && !names.includes(current) ? [current, ...names] : names;
}

/** Every filter is a labelled native control, so keyboard and screen readers work as usual. */
export function FilterBar({
  filters,
  onChange,
  functionNames,
  policyGroupNames,
  showFunction = true,
}: FilterBarProps) {
  const id = useId();
  const [text, setText] = useState(filters.text);
  useEffect(() => setText(filters.text), [filters.text]);
  // Typing updates the URL after a pause, replacing the history entry rather than adding one per key.
  useEffect(() => {
    if (text === filters.text) return;
    const timer = setTimeout(() => onChange({ ...filters, text }, { replace: true }), 300);
    return () => clearTimeout(timer);
  }, [text, filters, onChange]);

  return (
    <search aria-label="Filter events">
      <form className="filter-bar" onSubmit={(event) => event.preventDefault()}>
        <div className="field grow">
          <label htmlFor={`${id}-q`}>Search</label>
          <input
            id={`${id}-q`}
            type="search"
            placeholder="Target, operation or function"
            value={text}
            onChange={(event) => setText(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter') onChange({ ...filters, text }, { replace: true });
            }}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-category`}>Category</label>
          <select
            id={`${id}-category`}
            value={filters.category ?? ''}
            onChange={(event) =>
              onChange({ ...filters, category: (event.target.value || null) as EventFilters['category'] })
            }
          >
            <option value="">All</option>
            {CATEGORIES.map((category) => (
              <option key={category} value={category}>
                {category}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-action`}>Action</label>
          <select
            id={`${id}-action`}
            value={filters.action ?? ''}
            onChange={(event) =>
              onChange({ ...filters, action: (event.target.value || null) as EventFilters['action'] })
            }
          >
            <option value="">All</option>
            {ACTIONS.map((action) => (
              <option key={action} value={action}>
                {action}
              </option>
            ))}
          </select>
        </div>
        {showFunction && (
          <div className="field">
            <label htmlFor={`${id}-function`}>Function</label>
            <select
              id={`${id}-function`}
              value={filters.function ?? ''}
              onChange={(event) => onChange({ ...filters, function: event.target.value || null })}
            >
              <option value="">All</option>
              {withCurrent(functionNames, filters.function).map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor={`${id}-group`}>Policy group</label>
          <select
            id={`${id}-group`}
            value={filters.policyGroup ?? ''}
            onChange={(event) => onChange({ ...filters, policyGroup: event.target.value || null })}
          >
            <option value="">All</option>
            {withCurrent(policyGroupNames, filters.policyGroup).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-range`}>Time range</label>
          <select
            id={`${id}-range`}
            value={filters.range}
            onChange={(event) => onChange({ ...filters, range: event.target.value as TimeRangeId })}
          >
            {TIME_RANGES.map((range) => (
              <option key={range.id} value={range.id}>
                {range.label}
              </option>
            ))}
          </select>
        </div>
        {hasActiveFilters(showFunction ? filters : { ...filters, function: null }) && (
          <button
            type="button"
            className="button ghost small clear-filters"
            onClick={() =>
              onChange({
                ...filters,
                category: null,
                action: null,
                function: showFunction ? null : filters.function,
                policyGroup: null,
                text: '',
              })
            }
          >
            Clear filters
          </button>
        )}
      </form>
    </search>
  );
}
