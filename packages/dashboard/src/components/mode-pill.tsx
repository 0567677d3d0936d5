import type { Mode } from '../api/types.js';

export function ModePill({ mode, label }: { mode: Mode | undefined; label?: string }) {
  const value = mode ?? 'observe';
  return (
    <span className={`mode-pill mode-${value}`}>
      {label && <span className="sr-only">{label}: </span>}
      {value}
    </span>
  );
}
