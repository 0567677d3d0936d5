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

interface ChoiceFilterProps {
  id: string;
  label: string;
  /** null: no filter ("All"). */
  value: string | null;
  choices: readonly string[];
  onSelect: (value: string | null) => void;
}

/** One "All or one of these" filter: a labelled native select whose empty option clears it. */
function ChoiceFilter({ id, label, value, choices, onSelect }: ChoiceFilterProps) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(event) => onSelect(event.target.value || null)}>
        <option value="">All</option>
        {choices.map((choice) => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    </div>
  );
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
        <ChoiceFilter
          id={`${id}-category`}
          label="Category"
          value={filters.category}
          choices={CATEGORIES}
          onSelect={(category) => onChange({ ...filters, category: category as EventFilters['category'] })}
        />
        <ChoiceFilter
          id={`${id}-action`}
          label="Action"
          value={filters.action}
          choices={ACTIONS}
          onSelect={(action) => onChange({ ...filters, action: action as EventFilters['action'] })}
        />
        {showFunction && (
          <ChoiceFilter
            id={`${id}-function`}
            label="Function"
            value={filters.function}
            choices={withCurrent(functionNames, filters.function)}
            onSelect={(name) => onChange({ ...filters, function: name })}
          />
        )}
        <ChoiceFilter
          id={`${id}-group`}
          label="Policy group"
          value={filters.policyGroup}
          choices={withCurrent(policyGroupNames, filters.policyGroup)}
          onSelect={(name) => onChange({ ...filters, policyGroup: name })}
        />
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
