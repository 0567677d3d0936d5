/**
 * Versioned schema migrations, one list per dialect (the SQL differs in types and identity
 * columns, so each dialect gets hand-written DDL rather than a lowest common denominator).
 * Append new versions; never edit an applied one. `applyMigrations` runs at start and records
 * each version in `schema_migrations`.
 *
 * Conventions shared by both dialects: times are integer milliseconds since the epoch, booleans
 * are 0/1 integers, documents (policy groups, events) are JSON text. Keeping the value shapes
 * identical lets one query layer serve both.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const seedPlans = `INSERT INTO plans (name, retention_days, allow_cloud_provider_traffic, description) VALUES
  ('free', 7, 0, 'Free: events kept 7 days; cloud-provider traffic exception not available'),
  ('paid', 90, 1, 'Paid: events kept 90 days; cloud-provider traffic exception available'),
  ('temporary', 7, 0, 'Temporary license key without an account: observeAll.ability only')`;

export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: [
      `CREATE TABLE plans (
        name TEXT PRIMARY KEY,
        retention_days INTEGER NOT NULL,
        allow_cloud_provider_traffic INTEGER NOT NULL,
        description TEXT NOT NULL
      )`,
      seedPlans,
      `CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        email TEXT UNIQUE,
        password_hash TEXT,
        plan TEXT NOT NULL REFERENCES plans(name),
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE TABLE license_keys (
        key_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      )`,
      'CREATE INDEX license_keys_account ON license_keys(account_id)',
      `CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      )`,
      'CREATE INDEX api_tokens_account ON api_tokens(account_id)',
      `CREATE TABLE sessions (
        session_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      )`,
      `CREATE TABLE policy_groups (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      `CREATE TABLE functions (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        region TEXT NOT NULL,
        cloud_account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        function_version TEXT NOT NULL,
        runtime TEXT NOT NULL,
        architecture TEXT NOT NULL,
        memory_mb INTEGER,
        policy_group TEXT NOT NULL,
        agent_version TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        cold_starts INTEGER NOT NULL,
        UNIQUE (account_id, provider, region, cloud_account_id, function_name)
      )`,
      `CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        id TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        category TEXT NOT NULL,
        action TEXT NOT NULL,
        operation TEXT NOT NULL,
        target TEXT NOT NULL,
        policy_group TEXT NOT NULL,
        function_name TEXT,
        terminated INTEGER NOT NULL,
        body TEXT NOT NULL
      )`,
      'CREATE UNIQUE INDEX events_account_event_id ON events(account_id, id)',
      'CREATE INDEX events_account_time ON events(account_id, time_ms, seq)',
    ],
  },
  {
    version: 2,
    name: 'index events by function (the dashboard drill-down)',
    statements: [
      'CREATE INDEX events_account_function_time ON events(account_id, function_name, time_ms, seq)',
    ],
  },
  {
    version: 3,
    name: 'ids, labels, last 4 characters and last use of license keys and api tokens (key management)',
    statements: [
      'ALTER TABLE license_keys ADD COLUMN id TEXT',
      'ALTER TABLE license_keys ADD COLUMN label TEXT',
      'ALTER TABLE license_keys ADD COLUMN last4 TEXT',
      'ALTER TABLE license_keys ADD COLUMN last_used_at INTEGER',
      "UPDATE license_keys SET id = lower(hex(randomblob(16))), label = CASE kind WHEN 'live' THEN 'default' END",
      'CREATE UNIQUE INDEX license_keys_id ON license_keys(id)',
      'ALTER TABLE api_tokens ADD COLUMN id TEXT',
      'ALTER TABLE api_tokens ADD COLUMN last4 TEXT',
      'UPDATE api_tokens SET id = lower(hex(randomblob(16)))',
      'CREATE UNIQUE INDEX api_tokens_id ON api_tokens(id)',
    ],
  },
  {
    version: 4,
    name: "events each function's extension had to drop (reported with event batches)",
    statements: ['ALTER TABLE functions ADD COLUMN dropped_events INTEGER NOT NULL DEFAULT 0'],
  },
];

export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: [
      `CREATE TABLE plans (
        name TEXT PRIMARY KEY,
        retention_days INTEGER NOT NULL,
        allow_cloud_provider_traffic SMALLINT NOT NULL,
        description TEXT NOT NULL
      )`,
      seedPlans,
      `CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        email TEXT UNIQUE,
        password_hash TEXT,
        plan TEXT NOT NULL REFERENCES plans(name),
        kind TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      `CREATE TABLE license_keys (
        key_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT
      )`,
      'CREATE INDEX license_keys_account ON license_keys(account_id)',
      `CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      )`,
      'CREATE INDEX api_tokens_account ON api_tokens(account_id)',
      `CREATE TABLE sessions (
        session_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      `CREATE TABLE policy_groups (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      `CREATE TABLE functions (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        region TEXT NOT NULL,
        cloud_account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        function_version TEXT NOT NULL,
        runtime TEXT NOT NULL,
        architecture TEXT NOT NULL,
        memory_mb INTEGER,
        policy_group TEXT NOT NULL,
        agent_version TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        cold_starts INTEGER NOT NULL,
        UNIQUE (account_id, provider, region, cloud_account_id, function_name)
      )`,
      `CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id TEXT NOT NULL,
        id TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        received_ms BIGINT NOT NULL,
        category TEXT NOT NULL,
        action TEXT NOT NULL,
        operation TEXT NOT NULL,
        target TEXT NOT NULL,
        policy_group TEXT NOT NULL,
        function_name TEXT,
        terminated SMALLINT NOT NULL,
        body TEXT NOT NULL
      )`,
      'CREATE UNIQUE INDEX events_account_event_id ON events(account_id, id)',
      'CREATE INDEX events_account_time ON events(account_id, time_ms, seq)',
    ],
  },
  {
    version: 2,
    name: 'index events by function (the dashboard drill-down)',
    statements: [
      'CREATE INDEX events_account_function_time ON events(account_id, function_name, time_ms, seq)',
    ],
  },
  {
    version: 3,
    name: 'ids, labels, last 4 characters and last use of license keys and api tokens (key management)',
    statements: [
      'ALTER TABLE license_keys ADD COLUMN id TEXT',
      'ALTER TABLE license_keys ADD COLUMN label TEXT',
      'ALTER TABLE license_keys ADD COLUMN last4 TEXT',
      'ALTER TABLE license_keys ADD COLUMN last_used_at BIGINT',
      "UPDATE license_keys SET id = gen_random_uuid()::text, label = CASE kind WHEN 'live' THEN 'default' END",
      'CREATE UNIQUE INDEX license_keys_id ON license_keys(id)',
      'ALTER TABLE api_tokens ADD COLUMN id TEXT',
      'ALTER TABLE api_tokens ADD COLUMN last4 TEXT',
      'UPDATE api_tokens SET id = gen_random_uuid()::text',
      'CREATE UNIQUE INDEX api_tokens_id ON api_tokens(id)',
    ],
  },
  {
    version: 4,
    name: "events each function's extension had to drop (reported with event batches)",
    statements: ['ALTER TABLE functions ADD COLUMN dropped_events BIGINT NOT NULL DEFAULT 0'],
  },
];
