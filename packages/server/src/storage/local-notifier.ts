import type { BatchNotifier } from './kysely-storage.js';
import type { BatchNotice } from './types.js';

/** In-process batch announcements: enough for SQLite, which one process owns. */
export class LocalBatchNotifier implements BatchNotifier {
  readonly #listeners = new Set<(notice: BatchNotice) => void>();

  async announce(notice: BatchNotice): Promise<void> {
    for (const listener of this.#listeners) queueMicrotask(() => listener(notice));
  }

  subscribe(listener: (notice: BatchNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
