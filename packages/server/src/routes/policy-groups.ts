/** The account's policy groups, plus the public read-only observeAll.ability. */

import type { PolicyGroup } from '@appdefender/policy';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import {
  type ApiError,
  conflict,
  type FieldProblem,
  forbidden,
  notFound,
  paidPlanRequired,
  UniqueViolationError,
  validationFailed,
} from '../errors.js';
import { checkPolicyGroup, PUBLIC_GROUP_NAME } from '../policy-validation.js';
import { errorResponses, policyGroupInputSchema, warningsSchema } from '../schemas.js';
import { publicPolicyGroupJson, storedPolicyGroupJson } from '../wire.js';

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['name'],
} as const;

const groupResponse = {
  type: 'object',
  properties: { policyGroup: { $ref: 'StoredPolicyGroup#' }, warnings: warningsSchema },
} as const;

function readOnly(): ApiError {
  return forbidden(
    'READ_ONLY_POLICY_GROUP',
    `${PUBLIC_GROUP_NAME} is public and read-only; create your own group instead`,
  );
}

/** Features of the group that the account's plan must include (plans are rows, not code). */
async function enforcePlan(ctx: AppContext, accountId: string, group: PolicyGroup): Promise<void> {
  if (!group.allowCloudProviderTraffic) return;
  const account = await ctx.storage.getAccount(accountId);
  const plan = account && (await ctx.storage.getPlan(account.plan));
  if (!plan?.allowCloudProviderTraffic)
    throw paidPlanRequired('allowCloudProviderTraffic', account?.plan ?? 'unknown');
}

export function registerPolicyGroupRoutes(app: FastifyInstance, ctx: AppContext): void {
  const security: Array<Record<string, string[]>> = [{ session: [] }, { apiToken: [] }];

  app.get(
    '/api/v1/policy-groups',
    {
      schema: {
        tags: ['policy groups'],
        summary: 'List the policy groups (observeAll.ability first, then yours by name)',
        security,
        response: {
          200: {
            type: 'object',
            properties: { policyGroups: { type: 'array', items: { $ref: 'StoredPolicyGroup#' } } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const groups = await ctx.storage.listPolicyGroups(accountId);
      return { policyGroups: [publicPolicyGroupJson(), ...groups.map(storedPolicyGroupJson)] };
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/api/v1/policy-groups',
    {
      schema: {
        tags: ['policy groups'],
        summary: 'Create a policy group (names are unique per account)',
        security,
        body: { ...policyGroupInputSchema, required: ['name'] },
        response: { 201: groupResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      const { group, warnings } = checkPolicyGroup(request.body);
      if (group.name === PUBLIC_GROUP_NAME) {
        throw conflict(
          'POLICY_GROUP_EXISTS',
          `${PUBLIC_GROUP_NAME} is the public read-only group; pick another name`,
        );
      }
      await enforcePlan(ctx, accountId, group);
      try {
        const stored = await ctx.storage.createPolicyGroup(accountId, group, ctx.now());
        return reply.code(201).send({ policyGroup: storedPolicyGroupJson(stored), warnings });
      } catch (error) {
        if (error instanceof UniqueViolationError) {
          throw conflict(
            'POLICY_GROUP_EXISTS',
            `a policy group named ${group.name} already exists; update it with PUT`,
          );
        }
        throw error;
      }
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/v1/policy-groups/:name',
    {
      schema: {
        tags: ['policy groups'],
        summary: 'Read one policy group',
        security,
        params: nameParams,
        response: { 200: groupResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      if (request.params.name === PUBLIC_GROUP_NAME) return { policyGroup: publicPolicyGroupJson() };
      const stored = await ctx.storage.getPolicyGroup(accountId, request.params.name);
      if (!stored) throw notFound('POLICY_GROUP_NOT_FOUND', `no policy group named ${request.params.name}`);
      return { policyGroup: storedPolicyGroupJson(stored) };
    },
  );

  app.put<{ Params: { name: string }; Body: Record<string, unknown> }>(
    '/api/v1/policy-groups/:name',
    {
      schema: {
        tags: ['policy groups'],
        summary: 'Replace a policy group (the whole group; its version goes up by one)',
        security,
        params: nameParams,
        body: policyGroupInputSchema,
        response: { 200: groupResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { accountId } = await ctx.auth.user(request);
      const name = request.params.name;
      if (name === PUBLIC_GROUP_NAME) throw readOnly();
      const bodyName = request.body.name;
      if (bodyName !== undefined && bodyName !== name) {
        const problem: FieldProblem = {
          field: 'name',
          message: `must equal the name in the path (${name}); to rename, create a new group and delete this one`,
        };
        throw validationFailed([problem]);
      }
      const { group, warnings } = checkPolicyGroup({ ...request.body, name });
      await enforcePlan(ctx, accountId, group);
      const stored = await ctx.storage.updatePolicyGroup(accountId, group, ctx.now());
      if (!stored)
        throw notFound('POLICY_GROUP_NOT_FOUND', `no policy group named ${name}; create it with POST`);
      return { policyGroup: storedPolicyGroupJson(stored), warnings };
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/v1/policy-groups/:name',
    {
      schema: {
        tags: ['policy groups'],
        summary: 'Delete a policy group',
        security,
        params: nameParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { accountId } = await ctx.auth.user(request);
      if (request.params.name === PUBLIC_GROUP_NAME) throw readOnly();
      const deleted = await ctx.storage.deletePolicyGroup(accountId, request.params.name);
      if (!deleted) throw notFound('POLICY_GROUP_NOT_FOUND', `no policy group named ${request.params.name}`);
      return reply.code(204).send();
    },
  );
}
