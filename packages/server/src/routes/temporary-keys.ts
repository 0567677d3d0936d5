/** Temporary license keys: no account, observeAll.ability only, expire after a fixed TTL. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { tooManyRequests } from '../errors.js';
import { generateSecret, hashSecret } from '../keys.js';
import { PUBLIC_GROUP_NAME } from '../policy-validation.js';
import { errorResponses } from '../schemas.js';

export function registerTemporaryKeyRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v1/temporary-keys',
    {
      schema: {
        tags: ['accounts'],
        summary: 'A temporary license key without an account (fetches only observeAll.ability; expires)',
        response: {
          201: {
            type: 'object',
            properties: {
              licenseKey: { type: 'string', description: 'adk_temp_…, shown only now' },
              expiresAt: { type: 'string', format: 'date-time' },
              policyGroup: { type: 'string' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      // Unauthenticated and it creates a tenant: bound it per client address.
      const taken = ctx.temporaryKeyLimiter.take(request.ip);
      if (!taken.allowed) {
        throw tooManyRequests(
          taken.retryAfterSeconds,
          'too many temporary keys from this address; try later or sign up',
        );
      }
      const licenseKey = generateSecret('temporaryLicenseKey');
      const now = ctx.now();
      const expiresAt = now + ctx.temporaryKeyTtlMs;
      await ctx.storage.createTemporaryAccount({ licenseKeyHash: hashSecret(licenseKey), expiresAt, now });
      return reply
        .code(201)
        .send({ licenseKey, expiresAt: new Date(expiresAt).toISOString(), policyGroup: PUBLIC_GROUP_NAME });
    },
  );
}
