// Wire shapes of the control plane, as documented in docs/architecture.md ("Control plane wire
// formats"). Only what the dashboard reads is typed; everything else passes through untouched.

export type Category = 'network' | 'filesystem' | 'process';
export type Action = 'observe' | 'deny';
export type Mode = 'grant' | 'observe' | 'deny';

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

export interface PolicyGroup {
  name: string;
  description?: string;
  network?: Mode;
  filesystem?: Mode;
  process?: Mode;
  terminateOnDeny?: boolean;
  allowCloudProviderTraffic?: boolean;
  allowedDomains?: string[] | string;
  allowedPaths?: string[];
  allowedCommands?: string[];
}

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

export interface AppDefenderEvent {
  id: string;
  time: string;
  category: Category;
  action: Action;
  operation: string;
  target: string;
  terminated: boolean;
  policyGroup: string;
  count?: number;
  rule?: string;
  reason?: string;
  function?: string;
  functionVersion?: string;
  requestId?: string;
  runtime?: string;
  provider?: string;
  region?: string;
  agentVersion?: string;
  module?: { name: string; version?: string };
  stack?: string[];
  details?: Record<string, unknown>;
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
