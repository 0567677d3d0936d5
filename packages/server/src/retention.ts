/**
 * The retention job: deletes events older than their account's plan allows. It deletes in
 * batches and yields between them, so a large purge never holds the database (or, with SQLite,
 * the event loop) long enough to stall ingestion.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Storage } from './storage/types.js';

export interface RetentionJobOptions {
  storage: Storage;
  now: () => number;
  log: FastifyBaseLogger;
  intervalMs: number;
  batchSize: number;
  /** How long after its key expired an anonymous temporary tenant is deleted. */
  temporaryTenantGraceMs: number;
  /** Pause between batches, letting queued requests run. */
  pauseMs?: number;
}

export class RetentionJob {
  readonly #options: RetentionJobOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: RetentionJobOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.runOnce().catch((error) => this.#options.log.error({ err: error }, 'retention job failed'));
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Purges everything expired now; returns the number of events deleted. Runs never overlap. */
  runOnce(): Promise<number> {
    this.#running ??= this.#purge().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #purge(): Promise<number> {
    const { storage, now, batchSize, log } = this.#options;
    let total = 0;
    for (;;) {
      if (this.#stopped) break;
      const deleted = await storage.purgeExpiredEvents(now(), batchSize);
      total += deleted;
      if (deleted < batchSize) break;
      await sleep(this.#options.pauseMs ?? 10);
    }
    if (total > 0) log.info({ deleted: total }, 'retention: deleted expired events');
    // Anonymous tenants of temporary keys go once the key has been expired for the grace
    // period (their events would have expired by then anyway).
    let tenants = 0;
    for (;;) {
      if (this.#stopped) break;
      const deleted = await storage.purgeExpiredTemporaryAccounts(
        now() - this.#options.temporaryTenantGraceMs,
        100,
      );
      tenants += deleted;
      if (deleted < 100) break;
      await sleep(this.#options.pauseMs ?? 10);
    }
    if (tenants > 0) log.info({ tenants }, 'retention: deleted expired temporary tenants');
    return total;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running?.catch(() => 0);
  }
}
