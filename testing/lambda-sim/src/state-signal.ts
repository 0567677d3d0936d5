/**
 * Lets the lifecycle wait for conditions over state that HTTP handlers and process exits change:
 * every change calls `notify`, and each waiter re-checks its condition.
 */
export class StateSignal {
  private readonly waiters = new Set<() => void>();
  private closed = false;

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves true once `condition` holds, false at `deadline` (performance.now() time) or on close. */
  waitUntil(condition: () => boolean, deadline: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = (): void => {
        if (condition()) finish(true);
        else if (this.closed) finish(false);
      };
      const timer = setTimeout(() => finish(condition()), Math.max(0, deadline - performance.now()));
      this.waiters.add(check);
    });
  }

  /** Ends every wait (with false unless its condition holds). */
  close(): void {
    this.closed = true;
    this.notify();
  }
}
