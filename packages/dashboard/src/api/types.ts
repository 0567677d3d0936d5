// Wire shapes of the control plane, as documented in docs/architecture.md ("Control plane wire
// formats"). Only what the dashboard reads is typed; everything else passes through untouched.
// Shapes the policy engine already defines (modes, categories, groups, events) are derived from it,
// so a field added there reaches the dashboard without a second copy to keep in step.
import type { AgentEvent, Category, Mode, PolicyGroup as NormalisedPolicyGroup } from '@appdefender/policy';

export type { Category, Mode };
export type Action = AgentEvent['action'];

export const CATEGORIES: readonly Category[] = ['network', 'filesystem', 'process'];
export const ACTIONS: readonly Action[] = ['observe', 'deny'];
export const MODES: readonly Mode[] = ['grant', 'observe', 'deny'];

export interface Account {
  id: string;
  email: string;
  plan: string;
}

export interface Plan {
  name: string;
  description?: string;
  retentionDays: number;
  /** Paid features by name, e.g. `{ allowCloudProviderTraffic: false }`. */
  features: Record<string, boolean> | string[];
}

export interface Me {
  account: Account;
  plan: Plan;
}

export interface SignupResult {
  account: Account;
  licenseKey: string;
  apiToken: string;
}

/** A license key or api token as listed: never the secret, only its last 4 characters. */
export interface CredentialInfo {
  id: string;
  prefix: string;
  /** null for keys made before the server kept them. */
  last4: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface LicenseKeyInfo extends CredentialInfo {
  label: string | null;
}

export interface ApiTokenInfo extends CredentialInfo {
  name: string;
}

export interface TemporaryKey {
  licenseKey: string;
  expiresAt: string;
  policyGroup: string;
}

/**
 * A policy group as the API sends it or the editor submits it: the engine's fields, any of them
 * left out (the server fills defaults), and `allowedDomains` also as one comma-separated string.
 */
export type PolicyGroup = Pick<NormalisedPolicyGroup, 'name'> &
  Partial<Omit<NormalisedPolicyGroup, 'name' | 'allowedDomains'>> & {
    allowedDomains?: string[] | string;
  };

export interface StoredPolicyGroup extends PolicyGroup {
  version?: number;
  updatedAt?: string;
  readOnly?: boolean;
}

export interface FunctionRecord {
  id?: string;
  provider?: string;
  region?: string;
  accountId?: string;
  runtime?: string;
  architecture?: string;
  memoryMb?: number;
  functionName: string;
  functionVersion?: string;
  policyGroup?: string;
  agentVersion?: string;
  firstSeen?: string;
  lastSeen?: string;
  /** Events of the last 24 hours by action, when the server includes them. */
  events24h?: { observe: number; deny: number; total?: number };
}

/** An event as the control plane returns it: the agent's event plus when the server received it. */
export interface AppDefenderEvent extends AgentEvent {
  receivedAt?: string;
}

export interface EventPage {
  events: AppDefenderEvent[];
  nextCursor: string | null;
}

export interface ApiErrorDetail {
  field: string;
  message: string;
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: ApiErrorDetail[] };
}
