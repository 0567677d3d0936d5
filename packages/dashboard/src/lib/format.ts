const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' });

/** "3 min ago", "in 2 days", "just now"; `nowMs` is passed in so callers control re-rendering. */
export function formatRelative(iso: string | undefined, nowMs: number): string {
  if (!iso) return '—';
  const timeMs = Date.parse(iso);
  if (Number.isNaN(timeMs)) return '—';
  const seconds = Math.round((timeMs - nowMs) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return 'just now';
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86_400), 'day');
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

// 24-hour times: what logs and incident timelines use.
const timeOnly = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

const shortDateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

export function formatDateTime(iso: string | undefined): string {
  if (!iso) return '—';
  const timeMs = Date.parse(iso);
  return Number.isNaN(timeMs) ? iso : dateTime.format(timeMs);
}

/** Time of day for today's events, date and time otherwise: the list stays narrow. */
export function formatEventTime(iso: string, nowMs: number): string {
  const timeMs = Date.parse(iso);
  if (Number.isNaN(timeMs)) return iso;
  return nowMs - timeMs < 20 * 3600_000 ? timeOnly.format(timeMs) : shortDateTime.format(timeMs);
}

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

export function formatCount(value: number): string {
  return value < 10_000 ? value.toLocaleString('en') : compact.format(value);
}

export function formatRetention(days: number): string {
  if (days % 365 === 0) return days === 365 ? '1 year' : `${days / 365} years`;
  return days === 1 ? '1 day' : `${days} days`;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
