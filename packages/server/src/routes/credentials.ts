/**
 * An account's credentials: its license keys (for agents) and api tokens (for the CLI). Listed
 * without the secrets (only their last 4 characters), created with the secret shown once, and
 * revoked by id. Revoking deletes the hash, so the next call with that secret fails with 401.
 *
 * Any key or token may be revoked, the last one included: a leaked key must stop working at
 * once, without first having to make another (a new one can be created at any time, and the
 * password still signs in when no api token is left).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { notFound } from '../errors.js';
import { generateSecret, hashSecret, lastFourOf } from '../keys.js';
import { errorResponses } from '../schemas.js';
import { apiTokenJson, licenseKeyJson } from '../wire.js';

const security: Array<Record<string, string[]>> = [{ session: [] }, { apiToken: [] }];
const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['id'],
} as const;

export function registerCredentialRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v1/license-keys',
    {
      schema: {
        tags: ['keys'],
        summary: "The account's license keys (never the secrets), oldest first",
        security,
        response: {
          200: {
            type: 'object',
            properties: { licenseKeys: { type: 'array', items: { $ref: 'LicenseKey#' } } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const keys = await ctx.storage.listLicenseKeys(accountId);
      return { licenseKeys: keys.map(licenseKeyJson) };
    },
  );

  app.post<{ Body: { label?: string } | undefined }>(
    '/api/v1/license-keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Create another license key (the secret is shown only in this answer)',
        security,
        body: {
          type: 'object',
          properties: { label: { type: 'string', minLength: 1, maxLength: 100 } },
          additionalProperties: false,
        },
        response: {
          201: {
            type: 'object',
            properties: {
              licenseKey: { type: 'string', description: 'adk_live_…, shown only now' },
              key: { $ref: 'LicenseKey#' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      const licenseKey = generateSecret('liveLicenseKey');
      const info = await ctx.storage.createLicenseKey({
        accountId,
        key: { hash: hashSecret(licenseKey), last4: lastFourOf(licenseKey) },
        label: request.body?.label?.trim() || null,
        now: ctx.now(),
      });
      return reply.code(201).send({ licenseKey, key: licenseKeyJson(info) });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/license-keys/:id',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke a license key: agents using it get 401 from their next call',
        security,
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      if (!(await ctx.storage.revokeLicenseKey(accountId, request.params.id))) {
        throw notFound(
          'LICENSE_KEY_NOT_FOUND',
          `this account has no license key with id ${request.params.id}`,
        );
      }
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/api-tokens',
    {
      schema: {
        tags: ['keys'],
        summary: "The account's api tokens (never the secrets), oldest first",
        security,
        response: {
          200: { type: 'object', properties: { apiTokens: { type: 'array', items: { $ref: 'ApiToken#' } } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const tokens = await ctx.storage.listApiTokens(accountId);
      return { apiTokens: tokens.map(apiTokenJson) };
    },
  );

  app.post<{ Body: { name?: string } | undefined }>(
    '/api/v1/api-tokens',
    {
      schema: {
        tags: ['keys'],
        summary: 'Create another api token (the secret is shown only in this answer)',
        security,
        body: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 } },
          additionalProperties: false,
        },
        response: {
          201: {
            type: 'object',
            properties: {
              apiToken: { type: 'string', description: 'adt_…, shown only now' },
              token: { $ref: 'ApiToken#' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      const apiToken = generateSecret('apiToken');
      const info = await ctx.storage.createApiToken({
        accountId,
        tokenHash: hashSecret(apiToken),
        name: request.body?.name?.trim() || 'cli',
        last4: lastFourOf(apiToken),
        now: ctx.now(),
      });
      return reply.code(201).send({ apiToken, token: apiTokenJson(info) });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/api-tokens/:id',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke an api token: calls with it get 401 from now on',
        security,
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      if (!(await ctx.storage.revokeApiToken(accountId, request.params.id))) {
        throw notFound('API_TOKEN_NOT_FOUND', `this account has no api token with id ${request.params.id}`);
      }
      return reply.code(204).send();
    },
  );
}
