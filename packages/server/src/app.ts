/**
 * buildApp: the whole control plane as a Fastify instance, never listening (startServer does).
 */
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createAuthenticator } from './auth.js';
import type { AppContext } from './context.js';
import { registerDashboard, resolveDashboardDir } from './dashboard.js';
import { installErrorHandler } from './error-handler.js';
import { EventStreamHub } from './event-stream-hub.js';
import { DEFAULTS, LIMITS } from './limits.js';
import { TokenBucketLimiter } from './rate-limiter.js';
import { RetentionJob } from './retention.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerAgentRoutes } from './routes/agent.js';
import { registerCredentialRoutes } from './routes/credentials.js';
import { registerPolicyGroupRoutes } from './routes/policy-groups.js';
import { registerQueryRoutes } from './routes/queries.js';
import { registerStreamRoutes } from './routes/stream.js';
import { registerTemporaryKeyRoutes } from './routes/temporary-keys.js';
import { sharedSchemas } from './schemas.js';
import type { Storage } from './storage/types.js';

// ajv-formats is CommonJS with a `default` property; NodeNext sees the module object.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

export const SERVER_VERSION = '0.1.0';

export interface BuildAppOptions {
  storage: Storage;
  /** true/false, pino options, or a pino-compatible logger instance. Default: no logging. */
  logger?: boolean | FastifyServerOptions['logger'] | FastifyBaseLogger;
  /** The built dashboard (index.html inside); null: none. Default: packages/dashboard/dist. */
  dashboardDir?: string | null;
  /** The clock (ms since epoch); tests inject one. */
  now?: () => number;
  /** Per license key token bucket. Burst must be ≥ the largest batch (1000 events). */
  rateLimit?: { eventsPerSecond: number; burstEvents: number };
  /** Per client IP, for POST /api/v1/temporary-keys. */
  temporaryKeyRateLimit?: { perHour: number; burst: number };
  temporaryKeyTtlMs?: number;
  sessionTtlMs?: number;
  /** Periodic retention purge; false turns the timer off (runOnce still works). */
  retention?: { intervalMs: number; batchSize: number } | false;
  /** Set `Secure` on the session cookie (when served over HTTPS). Default false. */
  secureCookies?: boolean;
  /** Trust X-Forwarded-* (behind a reverse proxy), for client IPs. Default false. */
  trustProxy?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The retention job; `runOnce()` purges now (tests, admin). */
    retention: { runOnce(): Promise<number> };
  }
}

function isLoggerInstance(value: unknown): value is FastifyBaseLogger {
  return (
    typeof value === 'object' && value !== null && typeof (value as { child?: unknown }).child === 'function'
  );
}

/**
 * Builds the control plane on the given storage. The caller owns the storage (closes it after
 * `app.close()`).
 *
 * @example
 * const app = await buildApp({ storage: await openStorage({ dataDir }) });
 * const res = await app.inject({ method: 'GET', url: '/healthz' });
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const now = options.now ?? Date.now;
  const rateLimit = options.rateLimit ?? DEFAULTS.agentRateLimit;
  if (rateLimit.burstEvents < LIMITS.maxEventsPerBatch) {
    throw new RangeError(
      `rateLimit.burstEvents must be at least ${LIMITS.maxEventsPerBatch} (one full batch)`,
    );
  }
  const tempLimit = options.temporaryKeyRateLimit ?? DEFAULTS.temporaryKeyRateLimit;

  const app = Fastify({
    ...(isLoggerInstance(options.logger)
      ? { loggerInstance: options.logger }
      : { logger: options.logger ?? false }),
    bodyLimit: LIMITS.maxBodyBytes,
    trustProxy: options.trustProxy ?? false,
  }) as unknown as FastifyInstance;

  // Request bodies are validated without type coercion ("true" is not a boolean); query strings
  // and headers are text, so they are coerced.
  const ajvOptions = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false } as const;
  const bodyAjv = new Ajv({ ...ajvOptions, coerceTypes: false });
  const textAjv = new Ajv({ ...ajvOptions, coerceTypes: 'array' });
  for (const ajv of [bodyAjv, textAjv]) {
    addFormats(ajv);
    for (const schema of sharedSchemas) ajv.addSchema(schema);
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema),
  );
  for (const schema of sharedSchemas) app.addSchema(schema);

  // The API speaks JSON only; anything else is 415 rather than a confusing schema error.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app);
  let closing = false;
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    // During shutdown, requests still in flight finish, and their keep-alive connections close
    // right after instead of idling until the keep-alive timeout holds close() up.
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'AppDefender control plane',
        version: SERVER_VERSION,
        description:
          'Accounts, keys, policy groups, functions, events and the live event stream. See docs/api.md.',
      },
      components: {
        securitySchemes: {
          licenseKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'license key adk_live_… or adk_temp_… (agents)',
          },
          apiToken: { type: 'http', scheme: 'bearer', description: 'api token adt_… (CLI, scripts)' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'ad_session',
            description: 'login session (dashboard)',
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  const storage = options.storage;
  const hub = new EventStreamHub(storage, app.log);
  const ctx: AppContext = {
    storage,
    auth: createAuthenticator(storage, now),
    now,
    agentLimiter: new TokenBucketLimiter({
      ratePerSecond: rateLimit.eventsPerSecond,
      burst: rateLimit.burstEvents,
      now,
    }),
    temporaryKeyLimiter: new TokenBucketLimiter({
      ratePerSecond: tempLimit.perHour / 3600,
      burst: tempLimit.burst,
      now,
    }),
    hub,
    temporaryKeyTtlMs: options.temporaryKeyTtlMs ?? DEFAULTS.temporaryKeyTtlMs,
    sessionTtlMs: options.sessionTtlMs ?? DEFAULTS.sessionTtlMs,
    secureCookies: options.secureCookies ?? false,
  };

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['system'],
        summary: 'Liveness',
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' } } },
        },
      },
    },
    async () => ({ status: 'ok', version: SERVER_VERSION }),
  );
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerAccountRoutes(app, ctx);
  registerCredentialRoutes(app, ctx);
  registerTemporaryKeyRoutes(app, ctx);
  registerPolicyGroupRoutes(app, ctx);
  await registerAgentRoutes(app, ctx);
  registerQueryRoutes(app, ctx);
  registerStreamRoutes(app, ctx);
  await registerDashboard(
    app,
    options.dashboardDir === undefined ? resolveDashboardDir() : options.dashboardDir,
  );

  const retentionSettings =
    options.retention === false ? DEFAULTS.retention : (options.retention ?? DEFAULTS.retention);
  const retention = new RetentionJob({
    storage,
    now,
    log: app.log,
    ...retentionSettings,
    temporaryTenantGraceMs: DEFAULTS.temporaryTenantGraceMs,
  });
  app.decorate('retention', { runOnce: () => retention.runOnce() });

  app.addHook('onReady', async () => {
    hub.start();
    if (options.retention !== false) retention.start();
  });
  // Streams never end by themselves; end them first so close() can wait for the other requests
  // (in-flight event batches finish and are committed before the storage is closed).
  app.addHook('preClose', async () => {
    closing = true;
    await hub.stop();
  });
  app.addHook('onClose', async () => {
    await retention.stop();
  });
  return app;
}
