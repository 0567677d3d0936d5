import { useEffect, useState } from 'react';

/** The current time, refreshed every `intervalMs`: relative times re-render rarely, not per frame. */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
