/**
 * What agents and extensions call, with a license key: fetch the policy group, register the
 * function, deliver event batches.
 */
import { createHash } from 'node:crypto';
import type { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AgentEvent } from '@appdefender/policy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AgentPrincipal } from '../auth.js';
import type { AppContext } from '../context.js';
import { ApiError, forbidden, notFound, tooManyRequests, validationFailed } from '../errors.js';
import { LIMITS } from '../limits.js';
import { checkEvent, PUBLIC_GROUP_NAME } from '../policy-validation.js';
import { errorResponses, eventBatchSchema, functionReportSchema } from '../schemas.js';
import type { FunctionKey, FunctionReport } from '../storage/types.js';
import { functionJson, publicPolicyGroupJson, storedPolicyGroupJson } from '../wire.js';

declare module 'fastify' {
  interface FastifyRequest {
    agentPrincipal: AgentPrincipal | null;
  }
}

type EventResult = { id: string | null; status: 'accepted' | 'duplicate' | 'rejected'; error?: string };

function principal(request: FastifyRequest): AgentPrincipal {
  if (!request.agentPrincipal) throw new Error('agent route reached without authentication');
  return request.agentPrincipal;
}

function takeTokens(ctx: AppContext, agent: AgentPrincipal, cost: number): void {
  const taken = ctx.agentLimiter.take(agent.keyHash, cost);
  if (!taken.allowed) {
    throw tooManyRequests(
      taken.retryAfterSeconds,
      `rate limit of this license key exceeded; retry after ${taken.retryAfterSeconds} s`,
    );
  }
}

function etagOf(body: object, version: number): string {
  return `"${createHash('sha256')
    .update(`${version}:${JSON.stringify(body)}`)
    .digest('base64url')
    .slice(0, 27)}"`;
}

export async function registerAgentRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.decorateRequest('agentPrincipal', null);
  const security = [{ licenseKey: [] }];

  // Encapsulated so the hooks and the larger body limit apply to agent routes only.
  await app.register(async (agentApp) => {
    // Authenticate on the headers alone, before any body is read.
    agentApp.addHook('onRequest', async (request) => {
      request.agentPrincipal = await ctx.auth.agent(request);
    });

    agentApp.get<{ Querystring: { group: string } }>(
      '/api/v1/agent/policy',
      {
        schema: {
          tags: ['agent'],
          summary: "The agent's fetch of its policy group (ETag / If-None-Match → 304)",
          security,
          querystring: {
            type: 'object',
            properties: { group: { type: 'string', minLength: 1, maxLength: 128 } },
            required: ['group'],
          },
          response: { 200: { $ref: 'PolicyGroup#' }, 304: { type: 'null' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        const agent = principal(request);
        takeTokens(ctx, agent, 1);
        const name = request.query.group;
        let json: ReturnType<typeof publicPolicyGroupJson> | ReturnType<typeof storedPolicyGroupJson>;
        if (name === PUBLIC_GROUP_NAME) {
          json = publicPolicyGroupJson();
        } else {
          if (agent.keyKind === 'temporary') {
            throw forbidden(
              'TEMPORARY_KEY_LIMITED',
              `temporary license keys can only fetch ${PUBLIC_GROUP_NAME}; sign up for a free account to use your own groups`,
            );
          }
          const stored = await ctx.storage.getPolicyGroup(agent.accountId, name);
          if (!stored)
            throw notFound(
              'POLICY_GROUP_NOT_FOUND',
              `no policy group named ${name} in this license key's account`,
            );
          json = storedPolicyGroupJson(stored);
        }
        // Agents get the bare group; its version travels in the headers.
        const { version, createdAt: _c, updatedAt: _u, readOnly: _r, ...body } = json;
        const etag = etagOf(body, version);
        reply
          .header('etag', etag)
          .header('x-policy-version', String(version))
          .header('cache-control', 'no-cache');
        const ifNoneMatch = request.headers['if-none-match'];
        if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
          return reply.code(304).send();
        }
        return body;
      },
    );

    agentApp.post<{ Body: Partial<FunctionReport> & { functionName: string } }>(
      '/api/v1/agent/functions',
      {
        schema: {
          tags: ['agent'],
          summary: 'Register (upsert) the function the agent runs in; counts cold starts',
          security,
          body: functionReportSchema,
          response: {
            200: { type: 'object', properties: { function: { $ref: 'Function#' } } },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const agent = principal(request);
        takeTokens(ctx, agent, 1);
        const body = request.body;
        const report: FunctionReport = {
          provider: body.provider ?? '',
          region: body.region ?? '',
          accountId: body.accountId ?? '',
          functionName: body.functionName,
          functionVersion: body.functionVersion ?? '',
          runtime: body.runtime ?? '',
          architecture: body.architecture ?? '',
          memoryMb: body.memoryMb ?? null,
          policyGroup: body.policyGroup ?? '',
          agentVersion: body.agentVersion ?? '',
          coldStart: body.coldStart ?? true,
        };
        const record = await ctx.storage.upsertFunction(agent.accountId, report, ctx.now());
        return { function: functionJson(record) };
      },
    );

    await agentApp.register(async (eventsApp) => {
      eventsApp.addHook('preParsing', async (request, _reply, payload) => {
        const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
        if (encoding === 'identity') return payload;
        if (encoding !== 'gzip') {
          throw new ApiError({
            statusCode: 415,
            code: 'UNSUPPORTED_CONTENT_ENCODING',
            message: `Content-Encoding ${encoding} is not supported; send gzip or plain JSON`,
          });
        }
        // Fastify applies the body limit to what this stream yields (the decoded JSON), so a
        // small gzip bomb is cut off at maxBatchBytes; receivedEncodedLength is what arrived.
        const gunzip = createGunzip() as unknown as Transform & { receivedEncodedLength: number };
        gunzip.receivedEncodedLength = 0;
        payload.on('data', (chunk: Buffer) => {
          gunzip.receivedEncodedLength += chunk.length;
        });
        payload.pipe(gunzip);
        return gunzip;
      });

      eventsApp.post<{
        Body: { events: unknown[]; droppedEvents?: number; function?: Partial<FunctionKey> };
      }>(
        '/api/v1/agent/events',
        {
          bodyLimit: LIMITS.maxBatchBytes,
          schema: {
            tags: ['agent'],
            summary: `A batch of events (≤ ${LIMITS.maxEventsPerBatch} events, ≤ 1 MiB decoded, gzip allowed); idempotent by event id`,
            security,
            body: eventBatchSchema,
            response: {
              200: {
                type: 'object',
                properties: {
                  accepted: { type: 'integer' },
                  duplicates: { type: 'integer' },
                  rejected: { type: 'integer' },
                  results: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        id: { type: ['string', 'null'] },
                        status: { type: 'string', enum: ['accepted', 'duplicate', 'rejected'] },
                        error: { type: 'string' },
                      },
                      required: ['id', 'status'],
                    },
                  },
                },
              },
              ...errorResponses,
            },
          },
        },
        async (request) => {
          const agent = principal(request);
          const raw = request.body.events;
          const dropped = request.body.droppedEvents ?? 0;
          const droppedBy = request.body.function;
          if (dropped > 0 && !droppedBy) {
            throw validationFailed([
              {
                field: 'function',
                message:
                  'required when droppedEvents > 0: {provider, region, accountId, functionName} to count them on',
              },
            ]);
          }
          takeTokens(ctx, agent, raw.length);
          const results: EventResult[] = new Array(raw.length);
          const fresh: AgentEvent[] = [];
          const firstIndexOfId = new Map<string, number>();
          raw.forEach((input, index) => {
            const check = checkEvent(input);
            if (!check.ok) {
              const id =
                typeof input === 'object' && input !== null ? (input as { id?: unknown }).id : undefined;
              results[index] = {
                id: typeof id === 'string' ? id : null,
                status: 'rejected',
                error: check.message,
              };
              return;
            }
            const id = check.event.id;
            if (firstIndexOfId.has(id)) {
              results[index] = { id, status: 'duplicate' };
              return;
            }
            firstIndexOfId.set(id, index);
            fresh.push(check.event);
          });
          const inserted = await ctx.storage.insertEvents(agent.accountId, fresh, ctx.now());
          // Counted once the events are stored: a batch retried after a failure is counted again,
          // at most (a lost answer); the extension only forgets its count once a batch is accepted.
          if (dropped > 0 && droppedBy) {
            await ctx.storage.addDroppedEvents(
              agent.accountId,
              {
                provider: droppedBy.provider ?? '',
                region: droppedBy.region ?? '',
                accountId: droppedBy.accountId ?? '',
                functionName: droppedBy.functionName ?? '',
              },
              dropped,
              ctx.now(),
            );
          }
          let accepted = 0;
          let duplicates = 0;
          for (const [id, index] of firstIndexOfId) {
            const isNew = inserted.has(id);
            results[index] = { id, status: isNew ? 'accepted' : 'duplicate' };
            if (isNew) accepted++;
          }
          for (const result of results) if (result.status === 'duplicate') duplicates++;
          return { accepted, duplicates, rejected: raw.length - accepted - duplicates, results };
        },
      );
    });
  });
}
