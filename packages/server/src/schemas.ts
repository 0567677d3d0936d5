/**
 * JSON schemas of the HTTP API. Fastify validates requests with them and serialises responses
 * with them; @fastify/swagger turns them into the OpenAPI document at /api/openapi.json.
 */
import { POLICY_GROUP_FIELDS, POLICY_LIMITS } from '@appdefender/policy';
import { LIMITS } from './limits.js';

const modeSchema = { type: 'string', enum: ['grant', 'observe', 'deny'] } as const;
// Bounds come from the policy engine, so `appdefender policy validate` and the server agree.
const stringList = {
  type: 'array',
  items: { type: 'string', maxLength: POLICY_LIMITS.pathMaxLength },
  maxItems: POLICY_LIMITS.listMaxEntries,
} as const;
const isoTime = { type: 'string', format: 'date-time' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every 4xx/5xx answer',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'stable machine-readable code, e.g. VALIDATION_FAILED' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: {
            type: 'object',
            properties: { field: { type: 'string' }, message: { type: 'string' } },
            required: ['field', 'message'],
          },
        },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const errorResponses = {
  '4xx': { $ref: 'Error#' },
  '5xx': { $ref: 'Error#' },
} as const;

/** Shape only: the policy engine checks meaning (domain entries, paths, unknown fields). */
export const policyGroupInputSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: POLICY_LIMITS.nameMaxLength },
    description: { type: 'string', maxLength: POLICY_LIMITS.descriptionMaxLength },
    network: modeSchema,
    filesystem: modeSchema,
    process: modeSchema,
    terminateOnDeny: { type: 'boolean' },
    allowCloudProviderTraffic: { type: 'boolean' },
    allowedDomains: {
      description: 'a list, or one comma-separated string',
      anyOf: [stringList, { type: 'string', maxLength: POLICY_LIMITS.domainsStringMaxLength }],
    },
    allowedPaths: stringList,
    allowedCommands: stringList,
  },
} as const;

export const policyGroupSchema = {
  $id: 'PolicyGroup',
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    network: modeSchema,
    filesystem: modeSchema,
    process: modeSchema,
    terminateOnDeny: { type: 'boolean' },
    allowCloudProviderTraffic: { type: 'boolean' },
    allowedDomains: { type: 'array', items: { type: 'string' } },
    allowedPaths: { type: 'array', items: { type: 'string' } },
    allowedCommands: { type: 'array', items: { type: 'string' } },
  },
  required: POLICY_GROUP_FIELDS,
} as const;

export const storedPolicyGroupSchema = {
  $id: 'StoredPolicyGroup',
  type: 'object',
  properties: {
    ...policyGroupSchema.properties,
    version: { type: 'integer', description: 'starts at 1, +1 on every change' },
    createdAt: isoTime,
    updatedAt: isoTime,
    readOnly: { type: 'boolean', description: 'true for the public observeAll.ability' },
  },
  required: [...policyGroupSchema.required, 'version', 'updatedAt', 'readOnly'],
} as const;

export const warningsSchema = {
  type: 'array',
  description: 'non-fatal remarks of the policy validator (unknown fields, weak domain entries)',
  items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
} as const;

export const accountSchema = {
  $id: 'Account',
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    plan: { type: 'string' },
    createdAt: isoTime,
  },
  required: ['id', 'email', 'plan', 'createdAt'],
} as const;

export const planSchema = {
  $id: 'Plan',
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    retentionDays: { type: 'integer' },
    features: {
      type: 'object',
      properties: { allowCloudProviderTraffic: { type: 'boolean' } },
      required: ['allowCloudProviderTraffic'],
    },
  },
  required: ['name', 'retentionDays', 'features'],
} as const;

const credentialFields = {
  id: { type: 'string', description: 'names it in DELETE' },
  prefix: { type: 'string', description: 'the typed prefix every such secret starts with' },
  last4: {
    type: ['string', 'null'],
    description: 'its last 4 characters, to recognise it (null for keys made before they were kept)',
  },
  createdAt: isoTime,
  lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
} as const;

export const licenseKeyInfoSchema = {
  $id: 'LicenseKey',
  type: 'object',
  description: 'a license key of the account, without the secret (shown only when created)',
  properties: {
    ...credentialFields,
    label: { type: ['string', 'null'] },
    lastUsedAt: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'last agent call with it, to the minute (null: never used)',
    },
  },
  required: ['id', 'label', 'prefix', 'last4', 'createdAt', 'lastUsedAt'],
} as const;

export const apiTokenInfoSchema = {
  $id: 'ApiToken',
  type: 'object',
  description: 'an api token of the account, without the secret (shown only when created)',
  properties: { ...credentialFields, name: { type: 'string' } },
  required: ['id', 'name', 'prefix', 'last4', 'createdAt', 'lastUsedAt'],
} as const;

export const credentialsSchema = {
  type: 'object',
  properties: {
    email: { type: 'string', minLength: 3, maxLength: 254 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
  },
  required: ['email', 'password'],
  additionalProperties: false,
} as const;

export const functionReportSchema = {
  type: 'object',
  properties: {
    provider: { type: 'string', maxLength: 32, description: 'aws, gcp, azure, local' },
    region: { type: 'string', maxLength: 64 },
    accountId: { type: 'string', maxLength: 64, description: 'the cloud account (AWS account id), not ours' },
    runtime: { type: 'string', maxLength: 64 },
    architecture: { type: 'string', maxLength: 32 },
    memoryMb: { type: ['integer', 'null'], minimum: 0, maximum: 1_048_576 },
    functionName: { type: 'string', minLength: 1, maxLength: 256 },
    functionVersion: { type: 'string', maxLength: 128 },
    policyGroup: { type: 'string', maxLength: 128 },
    agentVersion: { type: 'string', maxLength: 64 },
    coldStart: { type: 'boolean', description: 'count this report as a cold start (default true)' },
  },
  required: ['functionName'],
  additionalProperties: false,
} as const;

export const functionSchema = {
  $id: 'Function',
  type: 'object',
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    region: { type: 'string' },
    accountId: { type: 'string' },
    runtime: { type: 'string' },
    architecture: { type: 'string' },
    memoryMb: { type: ['integer', 'null'] },
    functionName: { type: 'string' },
    functionVersion: { type: 'string' },
    policyGroup: { type: 'string' },
    agentVersion: { type: 'string' },
    firstSeen: isoTime,
    lastSeen: isoTime,
    coldStarts: { type: 'integer' },
    droppedEvents: {
      type: 'integer',
      description:
        'events the extension reported it had to drop (spool overflow, unreadable, refused), in total',
    },
    events24h: {
      type: 'object',
      properties: { observe: { type: 'integer' }, deny: { type: 'integer' }, total: { type: 'integer' } },
    },
  },
} as const;

export const eventSchema = {
  $id: 'Event',
  type: 'object',
  description: 'contract §2 plus optional fields (function, count, rule, module, stack, …)',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    time: isoTime,
    category: { type: 'string', enum: ['network', 'filesystem', 'process'] },
    action: { type: 'string', enum: ['observe', 'deny'] },
    operation: { type: 'string' },
    target: { type: 'string' },
    terminated: { type: 'boolean' },
    policyGroup: { type: 'string' },
  },
} as const;

export const eventBatchSchema = {
  type: 'object',
  properties: {
    events: {
      type: 'array',
      minItems: 1,
      maxItems: LIMITS.maxEventsPerBatch,
      // Each event is checked on its own by the policy engine, so one bad event is rejected
      // alone instead of failing the whole batch.
      items: { description: 'an event (contract §2); checked one by one' },
    },
    droppedEvents: {
      type: 'integer',
      minimum: 0,
      maximum: 1_000_000_000,
      description:
        'events the sender had to drop since its last accepted batch (spool overflow, unreadable, refused); needs `function` when > 0',
    },
    function: {
      type: 'object',
      description: 'the function the dropped events belong to (the key of its function report)',
      properties: {
        provider: { type: 'string', maxLength: 32 },
        region: { type: 'string', maxLength: 64 },
        accountId: { type: 'string', maxLength: 64 },
        functionName: { type: 'string', minLength: 1, maxLength: 256 },
      },
      required: ['functionName'],
      additionalProperties: false,
    },
  },
  required: ['events'],
  additionalProperties: false,
} as const;

export const eventFilterQuerySchema = {
  category: { type: 'string', enum: ['network', 'filesystem', 'process'] },
  action: { type: 'string', enum: ['observe', 'deny'] },
  function: { type: 'string', minLength: 1, maxLength: 256 },
  policyGroup: { type: 'string', minLength: 1, maxLength: 128 },
  since: {
    type: 'string',
    description: 'ISO 8601 date-time or epoch milliseconds (inclusive)',
    maxLength: 64,
  },
  until: {
    type: 'string',
    description: 'ISO 8601 date-time or epoch milliseconds (exclusive)',
    maxLength: 64,
  },
  q: {
    type: 'string',
    minLength: 1,
    maxLength: 200,
    description: 'text contained in target, operation or function',
  },
} as const;

export const sharedSchemas = [
  errorSchema,
  policyGroupSchema,
  storedPolicyGroupSchema,
  accountSchema,
  planSchema,
  functionSchema,
  eventSchema,
  licenseKeyInfoSchema,
  apiTokenInfoSchema,
];
