/**
 * GET /api/v1/events/stream: Server-Sent Events. Each event is `id: <event id>`, `event: event`,
 * `data: <event JSON>`. With `Last-Event-ID` (the header EventSource sends on reconnect, or the
 * `lastEventId` query parameter) the stream first replays from storage what came after that
 * event, then goes live without gaps or repeats.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { type EventFilterQuery, eventMatches, parseEventFilter } from '../event-filter.js';
import type { StreamSubscriber } from '../event-stream-hub.js';
import { LIMITS } from '../limits.js';
import { errorResponses, eventFilterQuerySchema } from '../schemas.js';
import type { StoredEvent } from '../storage/types.js';

const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off; it reconnects with Last-Event-ID and replays. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const REPLAY_PAGE = 500;
/** Ids a stream remembers having sent, to drop repeats (replay and live overlap, late notices). */
const MAX_REMEMBERED_IDS = LIMITS.maxStreamReplay + 10_000;

/**
 * The hub hands every stream of an account the same event objects, so each live event is
 * serialised once however many dashboards are open, not once per stream.
 */
const frames = new WeakMap<StoredEvent, string>();

function frame(stored: StoredEvent): string {
  let text = frames.get(stored);
  if (text === undefined) {
    text = `id: ${stored.event.id}\nevent: event\ndata: ${JSON.stringify(stored.event)}\n\n`;
    frames.set(stored, text);
  }
  return text;
}

export function registerStreamRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: EventFilterQuery & { lastEventId?: string } }>(
    '/api/v1/events/stream',
    {
      schema: {
        tags: ['events'],
        summary: 'Live events as Server-Sent Events (id = event id); resume with Last-Event-ID',
        security: [{ session: [] }, { apiToken: [] }],
        querystring: {
          type: 'object',
          properties: {
            ...eventFilterQuerySchema,
            lastEventId: { type: 'string', maxLength: 200, description: 'same as the Last-Event-ID header' },
          },
          additionalProperties: false,
        },
        headers: {
          type: 'object',
          properties: { 'last-event-id': { type: 'string', maxLength: 200 } },
        },
        response: {
          200: { description: 'text/event-stream', type: 'string' },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      const { lastEventId: queryLastEventId, ...filterQuery } = request.query;
      const filter = parseEventFilter(filterQuery);
      const header = request.headers['last-event-id'];
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? queryLastEventId;
      const resumeAfter = lastEventId ? await ctx.storage.findEventSeq(accountId, lastEventId) : undefined;

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      if (lastEventId && resumeAfter === undefined) {
        res.write(': Last-Event-ID not found (expired or unknown); streaming live events only\n\n');
      }

      let closed = false;
      // While replaying, live batches wait here; afterwards they go straight out.
      let pending: StoredEvent[][] | null = resumeAfter === undefined ? null : [];
      // Announcements can arrive late (PostgreSQL NOTIFY is asynchronous): a batch stored before
      // the Last-Event-ID, or one the replay already sent, must not be sent (again).
      const floorSeq = resumeAfter ?? 0;
      const sentIds = new Set<string>();
      const write = (events: StoredEvent[]) => {
        if (closed) return;
        let chunk = '';
        for (const stored of events) {
          const id = stored.event.id;
          if (stored.seq <= floorSeq || sentIds.has(id) || !eventMatches(stored.event, filter)) continue;
          sentIds.add(id);
          if (sentIds.size > MAX_REMEMBERED_IDS) sentIds.delete(sentIds.values().next().value as string);
          chunk += frame(stored);
        }
        if (chunk) res.write(chunk);
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          request.log.warn('live stream client too slow; closing it (it can resume with Last-Event-ID)');
          res.destroy();
        }
      };
      const subscriber: StreamSubscriber = {
        accountId,
        deliver(events) {
          if (pending) pending.push(events);
          else write(events);
        },
        end() {
          if (closed) return;
          closed = true;
          res.end();
        },
      };
      const heartbeat = setInterval(() => {
        if (!closed) res.write(': keep-alive\n\n');
      }, HEARTBEAT_MS);
      heartbeat.unref();
      // A reset connection must not become an unhandled 'error' event; 'close' cleans up.
      res.on('error', (error) => request.log.debug({ err: error }, 'live stream connection error'));
      res.on('close', () => {
        closed = true;
        clearInterval(heartbeat);
        ctx.hub.remove(subscriber);
      });
      // Subscribe before replaying so nothing inserted meanwhile falls between the two.
      ctx.hub.add(subscriber);

      if (resumeAfter !== undefined) {
        try {
          let after = resumeAfter;
          let total = 0;
          while (!closed && total < LIMITS.maxStreamReplay) {
            const page = await ctx.storage.readEventsAfter(
              accountId,
              after,
              filter,
              Math.min(REPLAY_PAGE, LIMITS.maxStreamReplay - total),
            );
            if (page.length === 0) break;
            write(page);
            total += page.length;
            after = page[page.length - 1]?.seq ?? after;
            if (page.length < REPLAY_PAGE) break;
          }
          if (total >= LIMITS.maxStreamReplay && !closed) {
            res.write(
              `: replay capped at ${LIMITS.maxStreamReplay} events; use GET /api/v1/events for older ones\n\n`,
            );
          }
        } catch (error) {
          request.log.error({ err: error }, 'stream replay failed');
          res.destroy();
          return;
        }
        const waiting = pending ?? [];
        pending = null;
        for (const events of waiting) write(events);
      }
    },
  );
}
