import { useEffect, useRef, useState } from 'react';

/**
 * `value`, but updated at most once per `intervalMs` (the latest value always lands). Charts over
 * 10,000 events follow the list this way instead of being recomputed for every live batch.
 */
export function useThrottledValue<T>(value: T, intervalMs: number): T {
  const [throttled, setThrottled] = useState(value);
  const lastUpdate = useRef(0);
  useEffect(() => {
    const wait = lastUpdate.current + intervalMs - Date.now();
    if (wait <= 0) {
      lastUpdate.current = Date.now();
      setThrottled(value);
      return;
    }
    const timer = setTimeout(() => {
      lastUpdate.current = Date.now();
      setThrottled(value);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, intervalMs]);
  return throttled;
}
