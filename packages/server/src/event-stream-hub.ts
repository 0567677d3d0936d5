/**
 * Live event delivery inside one instance. The storage announces every inserted batch (its own
 * and, on PostgreSQL, every other instance's); the hub reads a batch only when someone of that
 * account is listening, and hands each subscriber the events that pass its filter.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { BatchNotice, Storage, StoredEvent } from './storage/types.js';

export interface StreamSubscriber {
  accountId: string;
  deliver(events: StoredEvent[]): void;
  /** Ends the subscriber's connection (server shutdown). */
  end(): void;
}

export class EventStreamHub {
  readonly #storage: Storage;
  readonly #log: FastifyBaseLogger;
  readonly #byAccount = new Map<string, Set<StreamSubscriber>>();
  #unsubscribe: (() => void) | undefined;
  /** Batches are handled one after another so each stream sees them in announcement order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(storage: Storage, log: FastifyBaseLogger) {
    this.#storage = storage;
    this.#log = log;
  }

  start(): void {
    this.#unsubscribe ??= this.#storage.onBatchInserted((notice) => {
      if (!this.#byAccount.has(notice.accountId)) return;
      this.#queue = this.#queue.then(() => this.#dispatch(notice));
    });
  }

  async #dispatch(notice: BatchNotice): Promise<void> {
    try {
      const subscribers = this.#byAccount.get(notice.accountId);
      if (!subscribers || subscribers.size === 0) return;
      const events = await this.#storage.readBatch(notice);
      for (const subscriber of subscribers) subscriber.deliver(events);
    } catch (error) {
      this.#log.error({ err: error, notice }, 'could not deliver a batch to live streams');
    }
  }

  add(subscriber: StreamSubscriber): void {
    const set = this.#byAccount.get(subscriber.accountId) ?? new Set();
    set.add(subscriber);
    this.#byAccount.set(subscriber.accountId, set);
  }

  remove(subscriber: StreamSubscriber): void {
    const set = this.#byAccount.get(subscriber.accountId);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.#byAccount.delete(subscriber.accountId);
  }

  get subscriberCount(): number {
    let count = 0;
    for (const set of this.#byAccount.values()) count += set.size;
    return count;
  }

  /** Ends every stream (clients reconnect elsewhere with Last-Event-ID) and stops listening. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const set of this.#byAccount.values()) for (const subscriber of set) subscriber.end();
    this.#byAccount.clear();
    await this.#queue;
  }
}
