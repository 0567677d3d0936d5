/**
 * Test harness: runs a suite once per storage backend (SQLite in a fresh temp dir, PostgreSQL in
 * a fresh schema of the `test` database), and small helpers to call the API.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AgentEvent, uuidv7 } from '@appdefender/policy';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { type BuildAppOptions, buildApp, openStorage, type Storage } from '../src/index.js';

const CANDIDATE_URLS = process.env['APPDEFENDER_TEST_DATABASE_URL']
  ? [process.env['APPDEFENDER_TEST_DATABASE_URL']]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];

/** The first PostgreSQL URL that accepts a connection, or why none did. */
async function probePostgres(): Promise<{ url: string } | { skipReason: string }> {
  const failures: string[] = [];
  for (const url of CANDIDATE_URLS) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { url };
    } catch (error) {
      failures.push(`${url}: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  return { skipReason: `no PostgreSQL reachable (${failures.join('; ')})` };
}

export const postgres = await probePostgres();

export type BackendKind = 'sqlite' | 'postgres';

export class TestBackend {
  readonly kind: BackendKind;
  #dir: string | undefined;
  #schema: string | undefined;
  #storages: Storage[] = [];
  #apps: FastifyInstance[] = [];
  #main: Storage | undefined;

  constructor(kind: BackendKind) {
    this.kind = kind;
  }

  get storage(): Storage {
    if (!this.#main) throw new Error('backend not set up (use it inside a test)');
    return this.#main;
  }

  /** Options to open another storage on the same database (a second server instance). */
  get location(): { dataDir?: string; databaseUrl?: string; schema?: string } {
    if (this.kind === 'sqlite') return { dataDir: this.#dir! };
    return { databaseUrl: (postgres as { url: string }).url, schema: this.#schema! };
  }

  async setup(): Promise<void> {
    if (this.kind === 'sqlite') this.#dir = await mkdtemp(path.join(os.tmpdir(), 'appdefender-server-test-'));
    else this.#schema = `t_${process.pid}_${randomBytes(6).toString('hex')}`;
    this.#main = await this.openStorage();
  }

  async openStorage(): Promise<Storage> {
    const storage = await openStorage(this.location);
    this.#storages.push(storage);
    return storage;
  }

  async app(options: Partial<BuildAppOptions> = {}): Promise<FastifyInstance> {
    const app = await buildApp({ storage: this.storage, dashboardDir: null, ...options });
    this.#apps.push(app);
    await app.ready();
    return app;
  }

  async teardown(): Promise<void> {
    for (const app of this.#apps) await app.close();
    for (const storage of this.#storages) await storage.close();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    if (this.#schema) {
      const client = new pg.Client({ connectionString: (postgres as { url: string }).url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${this.#schema} CASCADE`);
      await client.end();
    }
  }
}

/** Defines the suite once per backend; the PostgreSQL run is skipped, saying why, without a server. */
export function describeBackends(title: string, body: (backend: TestBackend) => void): void {
  for (const kind of ['sqlite', 'postgres'] as const) {
    if (kind === 'postgres' && 'skipReason' in postgres) {
      console.warn(`[${title}] skipping the PostgreSQL run: ${postgres.skipReason}`);
      describe.skip(`${title} [postgres]`, () => body(new TestBackend(kind)));
      continue;
    }
    describe(`${title} [${kind}]`, () => {
      const backend = new TestBackend(kind);
      beforeAll(() => backend.setup());
      afterAll(() => backend.teardown());
      body(backend);
    });
  }
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** `app.inject` in one line for the common call: a method, a url, the caller's headers, maybe a JSON body. */
export function callApi(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  headers: Record<string, string>,
  payload?: object,
) {
  return app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
}

export interface SignedUp {
  email: string;
  password: string;
  accountId: string;
  licenseKey: string;
  apiToken: string;
  /** `ad_session=…`, for the Cookie header. */
  cookie: string;
}

export async function signUp(
  app: FastifyInstance,
  email = `user-${randomBytes(6).toString('hex')}@example.com`,
): Promise<SignedUp> {
  const password = 'correct horse battery';
  const res = await app.inject({ method: 'POST', url: '/api/v1/signup', payload: { email, password } });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  const body = res.json() as { account: { id: string }; licenseKey: string; apiToken: string };
  return {
    email,
    password,
    accountId: body.account.id,
    licenseKey: body.licenseKey,
    apiToken: body.apiToken,
    cookie: sessionCookieOf(res),
  };
}

export function sessionCookieOf(res: LightMyRequestResponse): string {
  const cookie = res.cookies.find((c) => c.name === 'ad_session');
  if (!cookie) throw new Error('no ad_session cookie in the response');
  return `ad_session=${cookie.value}`;
}

export function makeEvent(overrides: Partial<AgentEvent> = {}): AgentEvent {
  return {
    id: uuidv7(),
    time: new Date().toISOString(),
    category: 'network',
    action: 'observe',
    operation: 'connect',
    target: 'api.example.com:443',
    terminated: false,
    policyGroup: 'observeAll.ability',
    function: 'orders-api',
    ...overrides,
  };
}

export async function postEvents(app: FastifyInstance, licenseKey: string, events: unknown[]) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/agent/events',
    headers: bearer(licenseKey),
    payload: { events },
  });
}
