/** Sign-up, login, logout and the caller's account (more credentials: credentials.ts). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { csrfRejected, isSameOriginRequest, isVisiblyCrossSite, SESSION_COOKIE } from '../auth.js';
import type { AppContext } from '../context.js';
import { ApiError, conflict, UniqueViolationError, unauthorized, validationFailed } from '../errors.js';
import { generateSecret, hashSecret, lastFourOf } from '../keys.js';
import { decoyPasswordHash, hashPassword, verifyPassword } from '../passwords.js';
import { credentialsSchema, errorResponses } from '../schemas.js';
import { accountJson, planJson } from '../wire.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MIN_PASSWORD_LENGTH = 8;

interface Credentials {
  email: string;
  password: string;
}

function normaliseEmail(email: string): string {
  const normalised = email.trim().toLowerCase();
  if (!EMAIL.test(normalised))
    throw validationFailed([{ field: 'email', message: 'is not an email address' }]);
  return normalised;
}

async function startSession(ctx: AppContext, reply: FastifyReply, accountId: string): Promise<void> {
  const session = generateSecret('session');
  const now = ctx.now();
  await ctx.storage.createSession({
    accountId,
    sessionHash: hashSecret(session),
    expiresAt: now + ctx.sessionTtlMs,
    now,
  });
  reply.setCookie(SESSION_COOKIE, session, {
    httpOnly: true,
    sameSite: 'strict',
    secure: ctx.secureCookies,
    path: '/',
    maxAge: Math.floor(ctx.sessionTtlMs / 1000),
  });
}

function refuseCrossSite(request: FastifyRequest): void {
  if (isVisiblyCrossSite(request)) throw csrfRejected();
}

export function registerAccountRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: Credentials }>(
    '/api/v1/signup',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create a free account; returns its license key and an api token (shown once)',
        body: credentialsSchema,
        response: {
          201: {
            type: 'object',
            properties: {
              account: { $ref: 'Account#' },
              licenseKey: { type: 'string', description: 'adk_live_…, shown only now' },
              apiToken: { type: 'string', description: 'adt_…, shown only now' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      refuseCrossSite(request);
      const email = normaliseEmail(request.body.email);
      if (request.body.password.length < MIN_PASSWORD_LENGTH) {
        throw validationFailed([
          { field: 'password', message: `must be at least ${MIN_PASSWORD_LENGTH} characters` },
        ]);
      }
      const licenseKey = generateSecret('liveLicenseKey');
      const apiToken = generateSecret('apiToken');
      let account: Awaited<ReturnType<typeof ctx.storage.createUserAccount>>;
      try {
        account = await ctx.storage.createUserAccount({
          email,
          passwordHash: await hashPassword(request.body.password),
          plan: 'free',
          licenseKeyHash: hashSecret(licenseKey),
          apiTokenHash: hashSecret(apiToken),
          licenseKeyLast4: lastFourOf(licenseKey),
          apiTokenLast4: lastFourOf(apiToken),
          now: ctx.now(),
        });
      } catch (error) {
        if (error instanceof UniqueViolationError) {
          throw conflict('EMAIL_TAKEN', 'an account with this email already exists; log in instead');
        }
        throw error;
      }
      await startSession(ctx, reply, account.id);
      return reply.code(201).send({ account: accountJson(account), licenseKey, apiToken });
    },
  );

  app.post<{ Body: Credentials }>(
    '/api/v1/login',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Start a session (sets the httpOnly ad_session cookie)',
        body: credentialsSchema,
        response: {
          200: { type: 'object', properties: { account: { $ref: 'Account#' } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      refuseCrossSite(request);
      const email = request.body.email.trim().toLowerCase();
      const account = await ctx.storage.findAccountByEmail(email);
      // Verify against a decoy when the email is unknown so both failures take the same time.
      const valid = await verifyPassword(
        request.body.password,
        account?.passwordHash ?? (await decoyPasswordHash()),
      );
      if (!account?.passwordHash || !valid) {
        throw unauthorized('INVALID_CREDENTIALS', 'wrong email or password');
      }
      await startSession(ctx, reply, account.id);
      return { account: accountJson(account) };
    },
  );

  app.post(
    '/api/v1/logout',
    {
      schema: {
        tags: ['accounts'],
        summary: 'End the session',
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie) {
        if (!isSameOriginRequest(request)) throw csrfRejected();
        await ctx.storage.deleteSession(hashSecret(cookie));
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'The caller: account, plan and its retention',
        security: [{ session: [] }, { apiToken: [] }],
        response: {
          200: { type: 'object', properties: { account: { $ref: 'Account#' }, plan: { $ref: 'Plan#' } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const account = await ctx.storage.getAccount(accountId);
      if (!account) throw unauthorized('UNKNOWN_ACCOUNT', 'the account no longer exists');
      const plan = await ctx.storage.getPlan(account.plan);
      if (!plan)
        throw new ApiError({
          statusCode: 500,
          code: 'PLAN_MISSING',
          message: `plan ${account.plan} is not defined`,
        });
      return { account: accountJson(account), plan: planJson(plan) };
    },
  );
}
