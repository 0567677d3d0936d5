/** The dashboard's and CLI's reads: functions, events (paged, newest first), and event counts. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { notFound, validationFailed } from '../errors.js';
import {
  decodeCursor,
  type EventFilterQuery,
  encodeCursor,
  parseEventFilter,
  parseTimeParameter,
} from '../event-filter.js';
import { LIMITS } from '../limits.js';
import { errorResponses, eventFilterQuerySchema } from '../schemas.js';
import { functionJson } from '../wire.js';

const DAY_MS = 86_400_000;

const BUCKETS: Record<string, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '1d': DAY_MS,
};

/** The smallest standard bucket that keeps a range within ~120 buckets. */
function defaultBucketMs(rangeMs: number): number {
  for (const ms of Object.values(BUCKETS)) if (rangeMs / ms <= 120) return ms;
  return Math.ceil(rangeMs / 120 / DAY_MS) * DAY_MS;
}

export function registerQueryRoutes(app: FastifyInstance, ctx: AppContext): void {
  const security: Array<Record<string, string[]>> = [{ session: [] }, { apiToken: [] }];

  app.get(
    '/api/v1/functions',
    {
      schema: {
        tags: ['functions'],
        summary: "The account's functions (most recently seen first), with event counts of the last 24 h",
        security,
        response: {
          200: { type: 'object', properties: { functions: { type: 'array', items: { $ref: 'Function#' } } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const [functions, counts] = await Promise.all([
        ctx.storage.listFunctions(accountId),
        ctx.storage.countEventsByFunction(accountId, ctx.now() - DAY_MS),
      ]);
      const byFunction = new Map<string, { observe: number; deny: number }>();
      for (const row of counts) {
        if (row.function === null) continue;
        const entry = byFunction.get(row.function) ?? { observe: 0, deny: 0 };
        if (row.action === 'observe' || row.action === 'deny') entry[row.action] += row.count;
        byFunction.set(row.function, entry);
      }
      return {
        functions: functions.map((fn) =>
          functionJson(fn, byFunction.get(fn.functionName) ?? { observe: 0, deny: 0 }),
        ),
      };
    },
  );

  app.get<{ Querystring: EventFilterQuery & { limit: number; cursor?: string } }>(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Events, newest first, filtered, one page at a time (pass nextCursor as cursor)',
        security,
        querystring: {
          type: 'object',
          properties: {
            ...eventFilterQuerySchema,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: LIMITS.maxPageSize,
              default: LIMITS.defaultPageSize,
            },
            cursor: { type: 'string', maxLength: 100 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              events: { type: 'array', items: { $ref: 'Event#' } },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const filter = parseEventFilter(request.query);
      const limit = request.query.limit;
      const before = request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor);
      const rows = await ctx.storage.queryEvents(accountId, filter, {
        limit: limit + 1,
        ...(before ? { before } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        events: page.map((row) => row.event),
        nextCursor: rows.length > limit && last ? encodeCursor({ timeMs: last.timeMs, seq: last.seq }) : null,
      };
    },
  );

  // Registered beside /events/stats and /events/stream: Fastify prefers those static paths.
  app.get<{ Params: { id: string } }>(
    '/api/v1/events/:id',
    {
      schema: {
        tags: ['events'],
        summary: "One of the account's events by its id (a shared link to an event)",
        security,
        params: {
          type: 'object',
          properties: { id: { type: 'string', format: 'uuid', description: 'the event id' } },
          required: ['id'],
        },
        response: {
          200: { type: 'object', properties: { event: { $ref: 'Event#' } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const event = await ctx.storage.getEvent(accountId, request.params.id);
      if (!event) {
        throw notFound(
          'EVENT_NOT_FOUND',
          `this account has no event ${request.params.id} (never stored here, or past the plan's retention)`,
        );
      }
      return { event };
    },
  );

  app.get<{ Querystring: EventFilterQuery & { bucket?: string } }>(
    '/api/v1/events/stats',
    {
      schema: {
        tags: ['events'],
        summary: 'Event counts per category, action, function and time bucket (default: the last 24 h)',
        security,
        querystring: {
          type: 'object',
          properties: {
            ...eventFilterQuerySchema,
            bucket: {
              type: 'string',
              enum: Object.keys(BUCKETS),
              description: 'bucket width (default: automatic)',
            },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              since: { type: 'string', format: 'date-time' },
              until: { type: 'string', format: 'date-time' },
              bucketMs: { type: 'integer' },
              total: { type: 'integer' },
              byCategory: {
                type: 'object',
                properties: {
                  network: { type: 'integer' },
                  filesystem: { type: 'integer' },
                  process: { type: 'integer' },
                },
              },
              byAction: {
                type: 'object',
                properties: { observe: { type: 'integer' }, deny: { type: 'integer' } },
              },
              byFunction: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    function: { type: ['string', 'null'] },
                    total: { type: 'integer' },
                    observe: { type: 'integer' },
                    deny: { type: 'integer' },
                  },
                },
              },
              timeline: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    start: { type: 'string', format: 'date-time' },
                    total: { type: 'integer' },
                    observe: { type: 'integer' },
                    deny: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const { since, until, bucket, ...rest } = request.query;
      const untilMs = until === undefined ? ctx.now() : parseTimeParameter(until, 'until');
      const sinceMs = since === undefined ? untilMs - DAY_MS : parseTimeParameter(since, 'since');
      if (sinceMs >= untilMs)
        throw validationFailed([{ field: 'query.until', message: 'must be later than since' }]);
      const bucketMs =
        bucket === undefined ? defaultBucketMs(untilMs - sinceMs) : (BUCKETS[bucket] as number);
      const bucketCount = Math.ceil((untilMs - sinceMs) / bucketMs);
      if (bucketCount > LIMITS.maxStatsBuckets) {
        throw validationFailed([
          {
            field: 'query.bucket',
            message: `gives ${bucketCount} buckets; at most ${LIMITS.maxStatsBuckets} allowed`,
          },
        ]);
      }
      const filter = { ...parseEventFilter(rest), sinceMs, untilMs };
      const rows = await ctx.storage.eventStats(accountId, filter, bucketMs);

      const byCategory = { network: 0, filesystem: 0, process: 0 } as Record<string, number>;
      const byAction = { observe: 0, deny: 0 } as Record<string, number>;
      const byFunction = new Map<
        string | null,
        { function: string | null; total: number; observe: number; deny: number }
      >();
      const timeline = Array.from({ length: bucketCount }, (_, i) => ({
        start: new Date(sinceMs + i * bucketMs).toISOString(),
        total: 0,
        observe: 0,
        deny: 0,
      }));
      let total = 0;
      for (const row of rows) {
        total += row.count;
        byCategory[row.category] = (byCategory[row.category] ?? 0) + row.count;
        byAction[row.action] = (byAction[row.action] ?? 0) + row.count;
        const fn = byFunction.get(row.function) ?? { function: row.function, total: 0, observe: 0, deny: 0 };
        fn.total += row.count;
        const slot = timeline[row.bucket];
        if (slot) slot.total += row.count;
        if (row.action === 'observe' || row.action === 'deny') {
          fn[row.action] += row.count;
          if (slot) slot[row.action] += row.count;
        }
        byFunction.set(row.function, fn);
      }
      return {
        since: new Date(sinceMs).toISOString(),
        until: new Date(untilMs).toISOString(),
        bucketMs,
        total,
        byCategory,
        byAction,
        byFunction: [...byFunction.values()].sort((a, b) => b.total - a.total),
        timeline,
      };
    },
  );
}
