import { memo } from 'react';
import type { RankedEntry, TimeBucket } from '../lib/event-aggregates.js';
import { formatCount } from '../lib/format.js';
import { useElementWidth } from '../lib/use-element-width.js';

export type SeriesKind = 'action' | 'category';

const SERIES: Record<SeriesKind, { key: keyof Omit<TimeBucket, 'startMs'>; label: string }[]> = {
  action: [
    { key: 'deny', label: 'deny' },
    { key: 'observe', label: 'observe' },
  ],
  category: [
    { key: 'network', label: 'network' },
    { key: 'filesystem', label: 'filesystem' },
    { key: 'process', label: 'process' },
  ],
};

function bucketLabel(startMs: number, bucketMs: number): string {
  const date = new Date(startMs);
  if (bucketMs >= 24 * 3600_000)
    return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

/** A round axis maximum whose half is a whole number too (the middle grid line is labelled). */
export function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (step * magnitude >= value && ((step * magnitude) / 2) % 1 === 0) return step * magnitude;
  }
  return 10 * magnitude;
}

const HEIGHT = 150;
const AXIS_LEFT = 36;
const AXIS_BOTTOM = 20;

/** Stacked bars of events per time bucket, by action or by category. Hand-drawn SVG: a few KB. */
export const TimeChart = memo(function TimeChart({
  buckets,
  bucketMs,
  kind,
  title,
}: {
  buckets: TimeBucket[];
  bucketMs: number;
  kind: SeriesKind;
  title: string;
}) {
  const [ref, width] = useElementWidth<HTMLDivElement>();
  const series = SERIES[kind];
  const totals = buckets.map((bucket) => series.reduce((sum, entry) => sum + bucket[entry.key], 0));
  const total = totals.reduce((sum, value) => sum + value, 0);
  const max = niceMax(Math.max(0, ...totals));
  const plotWidth = Math.max(0, width - AXIS_LEFT - 4);
  const plotHeight = HEIGHT - AXIS_BOTTOM - 6;
  const slot = buckets.length > 0 ? plotWidth / buckets.length : 0;
  const barWidth = Math.max(1, slot - Math.min(3, slot * 0.25));
  const labelEvery = Math.max(1, Math.ceil(70 / Math.max(slot, 1)));
  const summary = `${title}: ${formatCount(total)} events in ${buckets.length} intervals, ${series
    .map(
      (entry) => `${entry.label} ${formatCount(buckets.reduce((sum, bucket) => sum + bucket[entry.key], 0))}`,
    )
    .join(', ')}.`;
  return (
    <figure className="chart">
      <figcaption className="chart-caption">
        <span>{title}</span>
        <span className="legend">
          {series.map((entry) => (
            <span key={entry.key} className="legend-item">
              <span className={`swatch fill-${entry.key}`} aria-hidden="true" />
              {entry.label}
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={ref} className="chart-area">
        {width > 0 && (
          <svg width={width} height={HEIGHT} role="img" aria-label={summary}>
            {[0, 0.5, 1].map((fraction) => {
              const y = 6 + plotHeight * (1 - fraction);
              return (
                <g key={fraction} className="grid">
                  <line x1={AXIS_LEFT} x2={width} y1={y} y2={y} />
                  <text x={AXIS_LEFT - 6} y={y + 4} textAnchor="end">
                    {formatCount(Math.round(max * fraction))}
                  </text>
                </g>
              );
            })}
            {buckets.map((bucket, index) => {
              let y = 6 + plotHeight;
              const x = AXIS_LEFT + index * slot;
              return (
                <g key={bucket.startMs}>
                  <title>
                    {`${bucketLabel(bucket.startMs, bucketMs)}: ${series
                      .map((entry) => `${bucket[entry.key]} ${entry.label}`)
                      .join(', ')}`}
                  </title>
                  {series.map((entry) => {
                    const value = bucket[entry.key];
                    if (value === 0) return null;
                    const height = Math.max(1, (value / max) * plotHeight);
                    y -= height;
                    return (
                      <rect
                        key={entry.key}
                        className={`fill-${entry.key}`}
                        x={x}
                        y={y}
                        width={barWidth}
                        height={height}
                      />
                    );
                  })}
                  <rect className="hit" x={x} y={6} width={slot} height={plotHeight} />
                  {index % labelEvery === 0 && x + 56 <= width && (
                    <text className="axis-label" x={x} y={HEIGHT - 4}>
                      {bucketLabel(bucket.startMs, bucketMs)}
                    </text>
                  )}
                </g>
              );
            })}
          </svg>
        )}
      </div>
    </figure>
  );
});

/** A ranked list with proportional bars; deny share drawn in the deny colour. */
export const BarList = memo(function BarList({
  title,
  entries,
  empty,
  onSelect,
  mono = true,
}: {
  title: string;
  entries: RankedEntry[];
  empty: string;
  onSelect?: (key: string) => void;
  mono?: boolean;
}) {
  const max = Math.max(1, ...entries.map((entry) => entry.count));
  return (
    <section className="barlist" aria-label={title}>
      <h3>{title}</h3>
      {entries.length === 0 ? (
        <p className="muted small">{empty}</p>
      ) : (
        <ol>
          {entries.map((entry) => {
            const label = (
              <>
                <span className="barlist-track" aria-hidden="true">
                  <span
                    className="barlist-bar fill-observe"
                    style={{ width: `${(entry.count / max) * 100}%` }}
                  >
                    <span
                      className="barlist-deny fill-deny"
                      style={{ width: `${(entry.deny / entry.count) * 100}%` }}
                    />
                  </span>
                </span>
                <span className={`barlist-key${mono ? ' mono' : ''}`} title={entry.key}>
                  {entry.key}
                </span>
                <span className="barlist-count">
                  {formatCount(entry.count)}
                  {entry.deny > 0 && <span className="sr-only">, {entry.deny} denied</span>}
                </span>
              </>
            );
            return (
              <li key={entry.key}>
                {onSelect ? (
                  <button type="button" className="barlist-row" onClick={() => onSelect(entry.key)}>
                    {label}
                  </button>
                ) : (
                  <div className="barlist-row">{label}</div>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
});
