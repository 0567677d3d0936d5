/** Documented limits of the HTTP API (docs/api.md lists them for users). */
export const LIMITS = {
  /** Events in one POST /api/v1/agent/events. */
  maxEventsPerBatch: 1000,
  /** Bytes of one event batch after gzip decoding (and before, when sent plain). */
  maxBatchBytes: 1024 * 1024,
  /** Bytes of any other request body. */
  maxBodyBytes: 256 * 1024,
  /** Events per page of GET /api/v1/events. */
  maxPageSize: 1000,
  defaultPageSize: 100,
  /** Events replayed to a resuming stream (Last-Event-ID) before it goes live. */
  maxStreamReplay: 10_000,
  /** Buckets in one stats answer. */
  maxStatsBuckets: 1000,
} as const;

/** Defaults of the tunable settings (BuildAppOptions overrides them). */
export const DEFAULTS = {
  /** Per license key: sustained events (or requests) per second, and the burst a bucket holds. */
  agentRateLimit: { eventsPerSecond: 20_000, burstEvents: 100_000 },
  /** Per client IP: temporary keys per hour, and the burst. */
  temporaryKeyRateLimit: { perHour: 20, burst: 20 },
  /** Temporary license keys expire after 7 days. */
  temporaryKeyTtlMs: 7 * 24 * 3600_000,
  /** The anonymous tenant of a temporary key is deleted 7 days after the key expired. */
  temporaryTenantGraceMs: 7 * 24 * 3600_000,
  /** Login sessions last 7 days. */
  sessionTtlMs: 7 * 24 * 3600_000,
  /** The retention job runs every 10 minutes and deletes in batches of 5000 rows. */
  retention: { intervalMs: 10 * 60_000, batchSize: 5000 },
} as const;
