/** Row types of the tables created by `migrations.ts`, for Kysely's typed queries. */
import type { Generated } from 'kysely';

export interface Database {
  schema_migrations: { version: number; name: string; applied_at: number };
  plans: { name: string; retention_days: number; allow_cloud_provider_traffic: number; description: string };
  accounts: {
    id: string;
    email: string | null;
    password_hash: string | null;
    plan: string;
    kind: string;
    created_at: number;
  };
  license_keys: {
    key_hash: string;
    account_id: string;
    kind: string;
    created_at: number;
    expires_at: number | null;
    /** Set for every row since migration 3 (older rows were given one then). */
    id: string;
    label: string | null;
    /** The key's last 4 characters, to recognise it; null for keys made before migration 3. */
    last4: string | null;
    last_used_at: number | null;
  };
  api_tokens: {
    token_hash: string;
    account_id: string;
    name: string;
    created_at: number;
    last_used_at: number | null;
    id: string;
    last4: string | null;
  };
  sessions: { session_hash: string; account_id: string; created_at: number; expires_at: number };
  policy_groups: {
    account_id: string;
    name: string;
    body: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  functions: {
    id: string;
    account_id: string;
    provider: string;
    region: string;
    cloud_account_id: string;
    function_name: string;
    function_version: string;
    runtime: string;
    architecture: string;
    memory_mb: number | null;
    policy_group: string;
    agent_version: string;
    first_seen: number;
    last_seen: number;
    cold_starts: number;
    /** Events the function's extension reported dropped (migration 4; 0 for existing rows). */
    dropped_events: Generated<number>;
  };
  events: {
    seq: Generated<number>;
    account_id: string;
    id: string;
    batch_id: string;
    time_ms: number;
    received_ms: number;
    category: string;
    action: string;
    operation: string;
    target: string;
    policy_group: string;
    function_name: string | null;
    terminated: number;
    body: string;
  };
}

/** The columns of one event row, as the hot-path writers receive them. */
export interface EventRow {
  id: string;
  timeMs: number;
  category: string;
  action: string;
  operation: string;
  target: string;
  policyGroup: string;
  functionName: string | null;
  terminated: number;
  body: string;
}
