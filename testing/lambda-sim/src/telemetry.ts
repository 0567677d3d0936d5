import { request } from 'node:http';

/** One Telemetry API event as Lambda delivers it (schema 2022-12-13). */
export interface TelemetryEvent {
  time: string;
  type: string;
  record: unknown;
}

export type TelemetryCategory = 'platform' | 'function' | 'extension';

interface Buffering {
  maxItems: number;
  maxBytes: number;
  timeoutMs: number;
}

interface Subscription {
  extensionName: string;
  types: Set<TelemetryCategory>;
  buffering: Buffering;
  url: URL;
  queue: TelemetryEvent[];
  queuedBytes: number;
  timer: NodeJS.Timeout | undefined;
  delivering: Promise<void> | undefined;
}

/** A rejected subscription: the HTTP status and Lambda's error body. */
export interface SubscribeRejection {
  status: number;
  errorType: string;
  errorMessage: string;
}

const CATEGORIES: readonly TelemetryCategory[] = ['platform', 'function', 'extension'];
const SCHEMA_VERSIONS = ['2022-07-01', '2022-12-13', '2025-01-29'];
// Lambda's documented limits and defaults for `buffering`.
const LIMITS: Record<keyof Buffering, { min: number; max: number; default: number }> = {
  maxItems: { min: 1000, max: 10_000, default: 1000 },
  maxBytes: { min: 262_144, max: 1_048_576, default: 262_144 },
  timeoutMs: { min: 25, max: 30_000, default: 1000 },
};
// Hosts a listener may be addressed by; `sandbox.localdomain` is what Lambda documents, mapped to loopback here.
const LOOPBACK_HOSTS = new Set(['sandbox.localdomain', '127.0.0.1', 'localhost']);
const DELIVERY_TIMEOUT_MS = 3000;
const MAX_QUEUED_EVENTS = 100_000;

/**
 * The Telemetry API's delivery side: subscriptions, batching by the subscriber's buffering
 * settings, and POSTing batches to the listener. Nothing is delivered while the environment is
 * frozen; batches wait for the thaw, as in Lambda.
 */
export class TelemetryHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private frozen = false;
  private readonly retried = new WeakSet<TelemetryEvent>();
  /** Events of the Init phase so far: a subscriber (which can only subscribe during Init) gets them too. */
  private initBacklog: { category: TelemetryCategory; event: TelemetryEvent }[] | undefined;

  constructor(private readonly log: (line: string) => void) {}

  /** Validates a `PUT /2022-07-01/telemetry` body and (re)subscribes the extension. */
  subscribe(extensionName: string, body: unknown): SubscribeRejection | undefined {
    const reject = (errorMessage: string): SubscribeRejection => ({
      status: 400,
      errorType: 'ValidationError',
      errorMessage,
    });
    if (typeof body !== 'object' || body === null) return reject('body must be a JSON object');
    const request = body as Record<string, unknown>;
    if (!SCHEMA_VERSIONS.includes(String(request.schemaVersion))) {
      return reject(`schemaVersion must be one of ${SCHEMA_VERSIONS.join(', ')}`);
    }
    if (!Array.isArray(request.types) || request.types.length === 0)
      return reject('types must be a non-empty array');
    const types = new Set<TelemetryCategory>();
    for (const type of request.types) {
      if (!CATEGORIES.includes(type))
        return reject(`types: ${JSON.stringify(type)} is not one of ${CATEGORIES.join(', ')}`);
      types.add(type);
    }
    const buffering = parseBuffering(request.buffering);
    if (typeof buffering === 'string') return reject(buffering);
    const destination = request.destination as Record<string, unknown> | undefined;
    if (typeof destination !== 'object' || destination === null) return reject('destination is required');
    if (destination.protocol !== 'HTTP') {
      return reject(
        `destination.protocol ${JSON.stringify(destination.protocol)} is not supported by the sim (HTTP only)`,
      );
    }
    let url: URL;
    try {
      url = new URL(String(destination.URI));
    } catch {
      return reject(`destination.URI ${JSON.stringify(destination.URI)} is not a URL`);
    }
    if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || url.port === '') {
      return reject(`destination.URI must be http://sandbox.localdomain:PORT/..., got ${url.href}`);
    }
    if (url.hostname !== '127.0.0.1') url.hostname = '127.0.0.1';
    const previous = this.subscriptions.get(extensionName);
    if (previous?.timer) clearTimeout(previous.timer);
    const subscription: Subscription = {
      extensionName,
      types,
      buffering,
      url,
      queue: previous?.queue ?? [],
      queuedBytes: 0,
      timer: undefined,
      delivering: previous?.delivering,
    };
    if (!previous) {
      for (const { category, event } of this.initBacklog ?? []) {
        if (types.has(category)) subscription.queue.push(event);
      }
    }
    recount(subscription);
    this.subscriptions.set(extensionName, subscription);
    this.emit('platform', 'platform.telemetrySubscription', {
      name: extensionName,
      state: 'Subscribed',
      types: [...types],
    });
    return undefined;
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /** Starts keeping the Init phase's events for subscribers yet to come. */
  beginInit(): void {
    this.initBacklog = [];
  }

  endInit(): void {
    this.initBacklog = undefined;
  }

  /** Queues an event for every subscriber of its category. */
  emit(category: TelemetryCategory, type: string, record: unknown): void {
    const event: TelemetryEvent = { time: new Date().toISOString(), type, record };
    if (this.initBacklog && this.initBacklog.length < MAX_QUEUED_EVENTS)
      this.initBacklog.push({ category, event });
    if (this.subscriptions.size === 0) return;
    const bytes = Buffer.byteLength(JSON.stringify(event));
    for (const subscription of this.subscriptions.values()) {
      if (!subscription.types.has(category)) continue;
      if (subscription.queue.length >= MAX_QUEUED_EVENTS) {
        this.log(`telemetry: queue of ${subscription.extensionName} is full, dropped ${type}`);
        continue;
      }
      subscription.queue.push(event);
      subscription.queuedBytes += bytes;
      this.schedule(subscription);
    }
  }

  /** Drops a subscription (its extension is gone). */
  unsubscribe(extensionName: string): void {
    const subscription = this.subscriptions.get(extensionName);
    if (subscription?.timer) clearTimeout(subscription.timer);
    this.subscriptions.delete(extensionName);
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const subscription of this.subscriptions.values()) this.schedule(subscription);
  }

  /** Delivers everything queued now (e.g. before SHUTDOWN), without waiting for the buffering timeout. */
  async flush(): Promise<void> {
    await Promise.all([...this.subscriptions.values()].map((subscription) => this.deliver(subscription)));
  }

  close(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.timer) clearTimeout(subscription.timer);
    }
    this.subscriptions.clear();
  }

  private schedule(subscription: Subscription): void {
    if (this.frozen || subscription.queue.length === 0) return;
    const { maxItems, maxBytes, timeoutMs } = subscription.buffering;
    if (subscription.queue.length >= maxItems || subscription.queuedBytes >= maxBytes) {
      void this.deliver(subscription);
    } else if (!subscription.timer) {
      subscription.timer = setTimeout(() => {
        subscription.timer = undefined;
        void this.deliver(subscription);
      }, timeoutMs);
    }
  }

  /** One batch at a time per subscriber, so the listener sees events in order. */
  private async deliver(subscription: Subscription): Promise<void> {
    while (subscription.delivering) await subscription.delivering;
    if (subscription.timer) {
      clearTimeout(subscription.timer);
      subscription.timer = undefined;
    }
    if (this.frozen || subscription.queue.length === 0) return;
    const batch = subscription.queue.splice(0, subscription.buffering.maxItems);
    recount(subscription);
    subscription.delivering = postBatch(subscription.url, batch).then(
      () => undefined,
      (error: Error) => {
        // Lambda does not promise delivery to a listener that fails; keep the batch for one retry at the next flush.
        this.log(
          `telemetry: delivery of ${batch.length} events to ${subscription.extensionName} failed: ${error.message}`,
        );
        if (this.subscriptions.get(subscription.extensionName) === subscription) {
          subscription.queue.unshift(...batch.filter((event) => !this.retried.has(event)));
          recount(subscription);
        }
        for (const event of batch) this.retried.add(event);
      },
    );
    try {
      await subscription.delivering;
    } finally {
      subscription.delivering = undefined;
    }
    this.schedule(subscription);
  }
}

function recount(subscription: Subscription): void {
  subscription.queuedBytes = subscription.queue.reduce(
    (sum, event) => sum + Buffer.byteLength(JSON.stringify(event)),
    0,
  );
}

function parseBuffering(value: unknown): Buffering | string {
  if (value !== undefined && (typeof value !== 'object' || value === null))
    return 'buffering must be an object';
  const given = (value ?? {}) as Record<string, unknown>;
  const buffering = {} as Buffering;
  for (const key of Object.keys(LIMITS) as (keyof Buffering)[]) {
    const limit = LIMITS[key];
    const setting = given[key] ?? limit.default;
    if (
      typeof setting !== 'number' ||
      !Number.isInteger(setting) ||
      setting < limit.min ||
      setting > limit.max
    ) {
      return `buffering.${key} must be an integer from ${limit.min} to ${limit.max}, got ${JSON.stringify(setting)}`;
    }
    buffering[key] = setting;
  }
  return buffering;
}

function postBatch(url: URL, batch: TelemetryEvent[]): Promise<void> {
  const body = JSON.stringify(batch);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: DELIVERY_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.once('end', () =>
          res.statusCode !== undefined && res.statusCode < 300
            ? resolve()
            : reject(new Error(`listener answered ${res.statusCode}`)),
        );
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}
