/**
 * Delivers spooled events to the control plane (POST /api/v1/agent/events, gzip), one request at a
 * time so offsets are committed in order. A failed delivery leaves the events in the spool and backs
 * off (honouring Retry-After); the function never waits on an unreachable control plane for longer
 * than the flush budget it was given.
 */
import type * as zlib from 'node:zlib';
import { builtin } from './builtin.js';
import { describeError } from './errors.js';
import type { EventBatch, EventSpool } from './event-spool.js';
import { httpRequest, retryAfterMs } from './http-client.js';
import type { LogLine } from './log.js';

export interface ShipperOptions {
  apiUrl: URL;
  licenseKey: string;
  spool: EventSpool;
  deliveryTimeoutMs: number;
  log: LogLine;
  now?: () => number;
  /**
   * The function the events come from, as its function report names it: drops are reported to the
   * control plane against it (`droppedEvents` in the batch). Undefined (or without a function name):
   * drops are only logged.
   */
  functionKey?: () => FunctionKey | undefined;
}

/** The key of the control plane's functions: what `droppedEvents` is counted on. */
export interface FunctionKey {
  provider: string;
  region: string;
  accountId: string;
  functionName: string;
}

interface DropReport {
  droppedEvents: number;
  function: FunctionKey;
}

export type DrainResult = 'empty' | 'deadline' | 'backing-off';

type DeliveryResult =
  | { kind: 'delivered'; rejected: number }
  | { kind: 'refused'; reason: string }
  | { kind: 'retry'; reason: string; retryAfterMs?: number };

const MAX_BACKOFF_MS = 30_000;
const BASE_BACKOFF_MS = 250;
/** A refused key or a gone route will not heal within seconds: wait longer before asking again. */
const AUTH_BACKOFF_MS = 60_000;

let zlibModule: typeof zlib | undefined;

/** zlib is loaded at the first batch, not at start: every millisecond of boot is cold start. */
function gzipAsync(text: string): Promise<Buffer> {
  zlibModule ??= builtin<typeof zlib>('node:zlib');
  const { gzip } = zlibModule;
  return new Promise((resolve, reject) =>
    gzip(text, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

export class EventShipper {
  private chain: Promise<unknown> = Promise.resolve();
  /** Drains queued or running on `chain`. */
  private draining = 0;
  private failures = 0;
  private backoffUntil = 0;
  private reportedDropped = 0;
  /** Of spool.dropped, how many a batch the control plane accepted has carried. */
  private droppedSent = 0;
  /** Set when the control plane refused a batch carrying `droppedEvents` (a server before it). */
  private dropReportsRefused = false;
  delivered = 0;
  private readonly eventsUrl: URL;
  private readonly now: () => number;

  constructor(private readonly options: ShipperOptions) {
    const base = options.apiUrl.pathname.endsWith('/') ? options.apiUrl : new URL(`${options.apiUrl.href}/`);
    this.eventsUrl = new URL('api/v1/agent/events', base);
    this.now = options.now ?? Date.now;
  }

  /**
   * Delivers everything spooled, until the spool is empty, `deadlineMs` (epoch ms) has passed, or the
   * control plane asks us to wait. Calls are serialised; a caller waits at most until its deadline.
   */
  drain(deadlineMs: number, options: { waitOutBackoff?: boolean } = {}): Promise<DrainResult> {
    // The end of most invocations: nothing spooled and nothing in flight. One stat, no timer, no
    // request, so the environment freezes as soon as possible.
    // A rotated file waiting out its grace period needs a read to be deleted.
    const { spool } = this.options;
    if (this.draining === 0 && !spool.hasPending() && !spool.rotationPending()) {
      this.reportDrops();
      return Promise.resolve('empty');
    }
    this.draining++;
    const run = this.chain
      .then(() => this.drainNow(deadlineMs, options.waitOutBackoff ?? true))
      .finally(() => this.draining--);
    this.chain = run.catch(() => undefined);
    const timeLeft = deadlineMs - this.now();
    if (timeLeft <= 0) return Promise.resolve('deadline');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<DrainResult>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), timeLeft);
    });
    return Promise.race([run.catch(() => 'backing-off' as const), deadline]).finally(() =>
      clearTimeout(timer),
    );
  }

  /** Whether delivery is paused after failures (the next drain returns at once). */
  isBackingOff(): boolean {
    return this.now() < this.backoffUntil;
  }

  private async drainNow(deadlineMs: number, waitOutBackoff: boolean): Promise<DrainResult> {
    for (;;) {
      if (this.isBackingOff()) {
        const wait = this.backoffUntil - this.now();
        // A short Retry-After that fits in the budget is waited out; a long one is not.
        if (!waitOutBackoff || this.now() + wait + 50 >= deadlineMs) return 'backing-off';
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const batch = this.options.spool.readBatch();
      this.reportDrops();
      if (!batch) return 'empty';
      const timeLeft = deadlineMs - this.now();
      if (timeLeft <= 20) return 'deadline';
      const dropReport = this.dropReport(batch);
      const result = await this.deliver(
        batch,
        dropReport,
        Math.min(this.options.deliveryTimeoutMs, timeLeft),
      );
      if (result.kind === 'refused' && dropReport) {
        // A control plane that predates droppedEvents refuses the field: send the batch again
        // without it rather than lose the events; drops are then only logged.
        this.dropReportsRefused = true;
        this.options.log(
          `the control plane refused droppedEvents (${result.reason}); dropped events are only logged from now on`,
        );
        continue;
      }
      if (result.kind === 'delivered') {
        this.droppedSent += dropReport?.droppedEvents ?? 0;
        this.options.spool.commit(batch);
        this.delivered += batch.events.length - result.rejected;
        this.failures = 0;
        if (result.rejected > 0) {
          this.options.spool.dropped += result.rejected;
          this.reportDrops();
        }
        continue;
      }
      if (result.kind === 'refused') {
        // The server will never take this batch as it is: skip it (counted) rather than block the spool.
        this.options.spool.commit(batch);
        this.options.spool.dropped += batch.events.length;
        this.options.log(
          `the control plane refused a batch of ${batch.events.length} events: ${result.reason}`,
        );
        this.reportDrops();
        continue;
      }
      this.failures++;
      const backoff =
        result.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (this.failures - 1));
      this.backoffUntil = this.now() + backoff;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.options.log(
          `event delivery failed (${result.reason}); ${this.options.spool.pendingBytes()} bytes wait in the spool, retrying in ${backoff} ms`,
        );
      }
    }
  }

  /**
   * The drops no accepted batch has carried yet, the batch's own unreadable lines included (counted
   * by the spool once the batch is committed), with the function to count them on.
   */
  private dropReport(batch: EventBatch): DropReport | undefined {
    const droppedEvents = this.options.spool.dropped + batch.unreadable - this.droppedSent;
    if (droppedEvents <= 0 || this.dropReportsRefused) return undefined;
    const fn = this.options.functionKey?.();
    if (!fn || fn.functionName === '') return undefined;
    return { droppedEvents, function: fn };
  }

  private async deliver(
    batch: EventBatch,
    dropReport: DropReport | undefined,
    timeoutMs: number,
  ): Promise<DeliveryResult> {
    // Drops are also logged (reportDrops), so they are seen without a control plane.
    const body = dropReport ? { events: batch.events, ...dropReport } : { events: batch.events };
    let response: Awaited<ReturnType<typeof httpRequest>>;
    try {
      response = await httpRequest({
        method: 'POST',
        url: this.eventsUrl,
        headers: {
          authorization: `Bearer ${this.options.licenseKey}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: await gzipAsync(JSON.stringify(body)),
        timeoutMs,
      });
    } catch (error) {
      return { kind: 'retry', reason: describeError(error) };
    }
    const { status } = response;
    if (status >= 200 && status < 300) return { kind: 'delivered', rejected: countRejected(response.body) };
    const reason = `status ${status}: ${response.body.slice(0, 200)}`;
    if (status === 429 || status === 503) {
      const retryAfter = retryAfterMs(response.headers['retry-after'], this.now());
      return retryAfter === undefined
        ? { kind: 'retry', reason }
        : { kind: 'retry', reason, retryAfterMs: retryAfter };
    }
    if (status === 401 || status === 403 || status === 404)
      return { kind: 'retry', reason, retryAfterMs: AUTH_BACKOFF_MS };
    if (status === 400 || status === 413 || status === 422) return { kind: 'refused', reason };
    return { kind: 'retry', reason };
  }

  private reportDrops(): void {
    const dropped = this.options.spool.dropped;
    if (dropped !== this.reportedDropped) {
      this.reportedDropped = dropped;
      this.options.log(
        `${dropped} events dropped so far (spool overflow, unreadable lines or refused by the control plane)`,
      );
    }
  }
}

/** The server's `rejected` count, when it says; events it refused one by one are not retried. */
function countRejected(body: string): number {
  try {
    const parsed = JSON.parse(body) as { rejected?: unknown };
    return typeof parsed.rejected === 'number' && parsed.rejected >= 0 ? parsed.rejected : 0;
  } catch {
    return 0;
  }
}
