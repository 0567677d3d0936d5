/** Storage records → the JSON the API sends (times as ISO strings). */
import { OBSERVE_ALL } from '@appdefender/policy';
import { SECRET_PREFIXES } from './keys.js';
import type { Account, CredentialInfo, FunctionRecord, Plan, StoredPolicyGroup } from './storage/types.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function accountJson(account: Account) {
  return {
    id: account.id,
    email: account.email ?? '',
    plan: account.plan,
    createdAt: iso(account.createdAt),
  };
}

export function planJson(plan: Plan) {
  return {
    name: plan.name,
    description: plan.description,
    retentionDays: plan.retentionDays,
    features: { allowCloudProviderTraffic: plan.allowCloudProviderTraffic },
  };
}

export function storedPolicyGroupJson(stored: StoredPolicyGroup) {
  return {
    ...stored.group,
    version: stored.version,
    createdAt: iso(stored.createdAt),
    updatedAt: iso(stored.updatedAt),
    readOnly: false,
  };
}

/** The public group as every account sees it: version 1, never changes. */
export function publicPolicyGroupJson() {
  return {
    ...OBSERVE_ALL,
    allowedDomains: [...OBSERVE_ALL.allowedDomains],
    allowedPaths: [...OBSERVE_ALL.allowedPaths],
    allowedCommands: [...OBSERVE_ALL.allowedCommands],
    version: 1,
    createdAt: iso(0),
    updatedAt: iso(0),
    readOnly: true,
  };
}

export function functionJson(record: FunctionRecord, events24h?: { observe: number; deny: number }) {
  return {
    ...record,
    firstSeen: iso(record.firstSeen),
    lastSeen: iso(record.lastSeen),
    ...(events24h
      ? {
          events24h: {
            observe: events24h.observe,
            deny: events24h.deny,
            total: events24h.observe + events24h.deny,
          },
        }
      : {}),
  };
}

function credentialTimes(info: CredentialInfo) {
  return {
    createdAt: iso(info.createdAt),
    lastUsedAt: info.lastUsedAt === null ? null : iso(info.lastUsedAt),
  };
}

export function licenseKeyJson(info: CredentialInfo) {
  return {
    id: info.id,
    label: info.label,
    prefix: SECRET_PREFIXES.liveLicenseKey,
    last4: info.last4,
    ...credentialTimes(info),
  };
}

export function apiTokenJson(info: CredentialInfo) {
  return {
    id: info.id,
    name: info.label ?? '',
    prefix: SECRET_PREFIXES.apiToken,
    last4: info.last4,
    ...credentialTimes(info),
  };
}
