#!/usr/bin/env node
// Control-plane benchmark: event ingest over HTTP (SQLite and PostgreSQL, batches of 500), event
// query latency on 1 million stored events, and live-stream (SSE) delivery latency.
//
//   node bench/server-ingest.mjs            (builds packages/server with tsc -b if dist is missing)
//
// The server runs in a child process (as in production); this process is the load generator.
// Baseline, measured in the same run: a bare node:http server that reads and JSON-parses the same
// batches and answers 200 — the ceiling that HTTP + JSON alone allow on this machine.
// Targets: ingest ≥ 50,000 events/s (SQLite), ≥ 30,000 events/s (PostgreSQL); query p99 < 50 ms;
// SSE delivery p99 < 500 ms.
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const serverDist = path.join(root, 'packages/server/dist/index.js');
const policyDist = path.join(root, 'packages/policy/dist/index.js');
const PG_URL = process.env.APPDEFENDER_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCH = 500;
const INGEST_BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const QUERY_EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 1_000_000);

// ---------------------------------------------------------------------------------------------
function startChild(args) {
  const execArgv = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ url: m.url, stop: () => stopChild(child) }));
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.send('stop');
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

async function signUp(url) {
  const res = await request(`${url}/api/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `bench-${randomBytes(4).toString('hex')}@example.com`,
      password: 'bench password 1',
    }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.body}`);
  return JSON.parse(res.body);
}

// Event ids are UUIDv7 (time-ordered), as the agent makes them.
let uuidv7;

const CATEGORIES = [
  ['network', 'connect', () => `api-${Math.floor(Math.random() * 50)}.example.com:443`],
  ['filesystem', 'write', () => `/tmp/cache/file-${Math.floor(Math.random() * 500)}.json`],
  ['process', 'spawn', () => '/usr/bin/git status --porcelain'],
];

function makeEvent(timeMs, extra) {
  const [category, operation, target] = CATEGORIES[Math.floor(Math.random() * 3)];
  return {
    id: uuidv7(),
    time: new Date(timeMs).toISOString(),
    category,
    action: Math.random() < 0.1 ? 'deny' : 'observe',
    operation,
    target: target(),
    terminated: false,
    policyGroup: 'payments-strict',
    function: `fn-${Math.floor(Math.random() * 20)}`,
    runtime: 'nodejs20.x',
    provider: 'aws',
    region: 'us-east-1',
    ...extra,
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Posts INGEST_BATCHES batches of 500 with CONCURRENCY in flight; returns events/s and latencies. */
async function ingest(url, licenseKey) {
  const bodies = Array.from({ length: INGEST_BATCHES }, () =>
    JSON.stringify({ events: Array.from({ length: BATCH }, () => makeEvent(Date.now())) }),
  );
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${licenseKey}` };
  // Warm up (JIT, connection setup, statement caches) with a few batches not counted.
  const warm = Array.from({ length: 5 }, () =>
    JSON.stringify({ events: Array.from({ length: BATCH }, () => makeEvent(Date.now())) }),
  );
  for (const body of warm) await request(`${url}/api/v1/agent/events`, { method: 'POST', headers, body });

  const latencies = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const t0 = performance.now();
        const res = await request(`${url}/api/v1/agent/events`, { method: 'POST', headers, body });
        latencies.push(performance.now() - t0);
        if (res.status !== 200) failures++;
        else if (licenseKey !== 'baseline' && JSON.parse(res.body).accepted !== BATCH) failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    eventsPerSecond: (INGEST_BATCHES * BATCH) / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
  };
}

async function pgClient() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  return client;
}

async function postgresReachable() {
  try {
    const client = await pgClient();
    await client.end();
    return true;
  } catch (error) {
    return error.message;
  }
}

/** 1M events for one account over the last 30 days, written straight into SQLite. */
async function seedSqlite(dataDir, accountId) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'appdefender.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert =
    db.prepare(`INSERT INTO events (account_id, id, batch_id, time_ms, received_ms, category, action,
    operation, target, policy_group, function_name, terminated, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const now = Date.now();
  const span = 30 * 86_400_000;
  const insertMany = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const event = makeEvent(now - span + Math.floor((i / QUERY_EVENTS) * span));
      insert.run(
        accountId,
        event.id,
        'seed',
        Date.parse(event.time),
        now,
        event.category,
        event.action,
        event.operation,
        event.target,
        event.policyGroup,
        event.function,
        0,
        JSON.stringify(event),
      );
    }
  });
  for (let from = 0; from < QUERY_EVENTS; from += 50_000)
    insertMany(from, Math.min(QUERY_EVENTS, from + 50_000));
  db.exec('ANALYZE');
  db.close();
}

/** The same on PostgreSQL, generated server-side (independent random category, action, function). */
async function seedPostgres(schema, accountId) {
  const client = await pgClient();
  try {
    await client.query(`SET search_path = ${schema}`);
    const now = Date.now();
    const span = 30 * 86_400_000;
    await client.query(
      `INSERT INTO events (account_id, id, batch_id, time_ms, received_ms, category, action, operation, target,
         policy_group, function_name, terminated, body)
       SELECT $1, g.id, 'seed', g.time_ms, $2::bigint + $3::bigint, g.category, g.action, 'connect', g.target,
         'payments-strict', g.fn, 0,
         '{"id":"' || g.id || '","time":"' || to_char(to_timestamp(g.time_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ||
         '","category":"' || g.category || '","action":"' || g.action || '","operation":"connect","target":"' || g.target ||
         '","terminated":false,"policyGroup":"payments-strict","function":"' || g.fn || '"}'
       FROM (
         SELECT md5(i::text)::uuid::text AS id,
           $2::bigint + (i::bigint * $3::bigint / $4::bigint) AS time_ms,
           (ARRAY['network','filesystem','process'])[1 + floor(random() * 3)::int] AS category,
           CASE WHEN random() < 0.1 THEN 'deny' ELSE 'observe' END AS action,
           'api-' || floor(random() * 50)::int || '.example.com:443' AS target,
           'fn-' || floor(random() * 20)::int AS fn
         FROM generate_series(0, $4::bigint - 1) AS i
       ) AS g`,
      [accountId, now - span, span, QUERY_EVENTS],
    );
    await client.query('ANALYZE events');
  } finally {
    await client.end();
  }
}

async function queryLatencies(url, apiToken) {
  const headers = { authorization: `Bearer ${apiToken}` };
  const now = Date.now();
  const first = JSON.parse((await request(`${url}/api/v1/events?limit=100`, { headers })).body);
  if (first.events.length !== 100) throw new Error(`expected 100 events, got ${first.events.length}`);
  const queries = [
    '/api/v1/events?limit=100',
    `/api/v1/events?limit=100&cursor=${first.nextCursor}`,
    '/api/v1/events?limit=100&category=network',
    '/api/v1/events?limit=100&action=deny',
    '/api/v1/events?limit=100&function=fn-7',
    '/api/v1/events?limit=100&category=process&action=deny&function=fn-3',
    `/api/v1/events?limit=100&since=${now - 15 * 86_400_000}&until=${now - 14 * 86_400_000}`,
    '/api/v1/events?limit=100&q=api-7',
  ];
  const rounds = 30;
  const all = [];
  const perQuery = [];
  for (const query of queries) {
    const times = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const res = await request(`${url}${query}`, { headers });
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`${query}: ${res.status} ${res.body}`);
    }
    times.sort((a, b) => a - b);
    perQuery.push({ query, p50: percentile(times, 50), p99: percentile(times, 99) });
    all.push(...times);
  }
  all.sort((a, b) => a - b);
  const statsTimes = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await request(`${url}/api/v1/events/stats`, { headers });
    statsTimes.push(performance.now() - t0);
  }
  statsTimes.sort((a, b) => a - b);
  return {
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    perQuery,
    statsP50: percentile(statsTimes, 50),
  };
}

/** Posts 100 batches of 50 events at ~50 batches/s; measures send → SSE receipt per event. */
async function sseLatency(url, licenseKey, apiToken) {
  const latencies = [];
  const expected = 100 * 50;
  let resolveAll;
  const allReceived = new Promise((r) => {
    resolveAll = r;
  });
  const sentAt = new Map();
  const req = http.get(
    `${url}/api/v1/events/stream`,
    { headers: { authorization: `Bearer ${apiToken}` } },
    (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const now = performance.now();
        buffer += chunk;
        let idx = buffer.indexOf('\n\n');
        while (idx !== -1) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          const id = /^id: (.+)$/m.exec(block)?.[1];
          const t = id && sentAt.get(id);
          if (t !== undefined) {
            latencies.push(now - t);
            if (latencies.length === expected) resolveAll();
          }
          idx = buffer.indexOf('\n\n');
        }
      });
    },
  );
  await new Promise((r) => setTimeout(r, 300));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${licenseKey}` };
  for (let b = 0; b < 100; b++) {
    const events = Array.from({ length: 50 }, () => makeEvent(Date.now()));
    const t0 = performance.now();
    for (const event of events) sentAt.set(event.id, t0);
    await request(`${url}/api/v1/agent/events`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ events }),
    });
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.race([allReceived, new Promise((r) => setTimeout(r, 10_000))]);
  req.destroy();
  latencies.sort((a, b) => a - b);
  return {
    received: latencies.length,
    expected,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function main() {
  if (!existsSync(serverDist)) {
    console.log('building packages/server (tsc -b) …');
    execFileSync('npx', ['tsc', '-b', 'packages/server'], { cwd: root, stdio: 'inherit' });
  }
  ({ uuidv7 } = await import(pathToFileURL(policyDist).href));
  const benchStarted = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'appdefender-bench-'));
  const pgStatus = await postgresReachable();
  const schemas = [];
  const results = {};
  try {
    console.log(`control-plane benchmark on ${os.cpus().length} CPU(s), Node ${process.version}`);
    console.log(
      `ingest: ${INGEST_BATCHES} batches x ${BATCH} events, ${CONCURRENCY} in flight, over HTTP keep-alive\n`,
    );

    const baseline = await startChild(['--baseline']);
    results.baseline = await ingest(baseline.url, 'baseline');
    await baseline.stop();
    console.log(
      `baseline (node:http + JSON.parse only): ${fmt(results.baseline.eventsPerSecond)} events/s, batch p50 ${fmt(results.baseline.p50, 1)} ms, p99 ${fmt(results.baseline.p99, 1)} ms`,
    );

    const sqlite = await startChild(['--serve', JSON.stringify({ dataDir: path.join(tmp, 'ingest') })]);
    const sqliteUser = await signUp(sqlite.url);
    results.sqlite = await ingest(sqlite.url, sqliteUser.licenseKey);
    results.sse = await sseLatency(sqlite.url, sqliteUser.licenseKey, sqliteUser.apiToken);
    await sqlite.stop();
    report('SQLite ingest', results.sqlite, 50_000, results.baseline);

    if (pgStatus === true) {
      const schema = `bench_${process.pid}_${randomBytes(3).toString('hex')}`;
      schemas.push(schema);
      const pgServer = await startChild(['--serve', JSON.stringify({ databaseUrl: PG_URL, schema })]);
      const pgUser = await signUp(pgServer.url);
      results.postgres = await ingest(pgServer.url, pgUser.licenseKey);
      results.ssePostgres = await sseLatency(pgServer.url, pgUser.licenseKey, pgUser.apiToken);
      await pgServer.stop();
      report('PostgreSQL ingest', results.postgres, 30_000, results.baseline);
    } else {
      console.log(`PostgreSQL ingest: SKIPPED (${pgStatus})`);
    }

    console.log('');
    for (const [name, sse] of [
      ['SQLite', results.sse],
      ['PostgreSQL (LISTEN/NOTIFY)', results.ssePostgres],
    ]) {
      if (!sse) continue;
      console.log(
        `SSE delivery ${name}: ${sse.received}/${sse.expected} events, p50 ${fmt(sse.p50, 1)} ms, p99 ${fmt(sse.p99, 1)} ms (target < 500 ms) ${sse.p99 < 500 && sse.received === sse.expected ? 'PASS' : 'FAIL'}`,
      );
    }

    if (QUERY_EVENTS === 0) return;
    console.log(
      `\nquery latency on ${fmt(QUERY_EVENTS)} stored events (one account, 30 days), 30 rounds per query:`,
    );
    const queryDir = path.join(tmp, 'query');
    const seedServer = await startChild(['--serve', JSON.stringify({ dataDir: queryDir })]);
    const queryUser = await signUp(seedServer.url);
    await seedServer.stop();
    let t0 = performance.now();
    await seedSqlite(queryDir, queryUser.account.id);
    console.log(`  seeded SQLite in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const sqliteQuery = await startChild(['--serve', JSON.stringify({ dataDir: queryDir })]);
    results.querySqlite = await queryLatencies(sqliteQuery.url, queryUser.apiToken);
    await sqliteQuery.stop();
    reportQueries('SQLite', results.querySqlite);

    if (pgStatus === true) {
      const schema = `bench_q_${process.pid}_${randomBytes(3).toString('hex')}`;
      schemas.push(schema);
      const pgQuery = await startChild(['--serve', JSON.stringify({ databaseUrl: PG_URL, schema })]);
      const pgUser = await signUp(pgQuery.url);
      t0 = performance.now();
      await seedPostgres(schema, pgUser.account.id);
      console.log(`  seeded PostgreSQL in ${fmt((performance.now() - t0) / 1000, 1)} s`);
      results.queryPostgres = await queryLatencies(pgQuery.url, pgUser.apiToken);
      await pgQuery.stop();
      reportQueries('PostgreSQL', results.queryPostgres);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (schemas.length > 0) {
      const client = await pgClient();
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
    agent.destroy();
  }
  console.log(`\ntotal bench time ${fmt((performance.now() - benchStarted) / 1000, 1)} s`);
}

function report(name, r, target, baseline) {
  console.log(
    `${name}: ${fmt(r.eventsPerSecond)} events/s (target ≥ ${fmt(target)}) ${r.eventsPerSecond >= target && r.failures === 0 ? 'PASS' : 'FAIL'}; ` +
      `batch p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms; ${fmt(r.eventsPerSecond / baseline.eventsPerSecond, 2)}x of baseline; failures ${r.failures}`,
  );
}

function reportQueries(name, r) {
  console.log(
    `  ${name}: all event queries p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms (target < 50 ms) ${r.p99 < 50 ? 'PASS' : 'FAIL'}`,
  );
  for (const q of r.perQuery)
    console.log(
      `    ${q.query.replace(/cursor=[^&]+/, 'cursor=…')}: p50 ${fmt(q.p50, 1)} ms, p99 ${fmt(q.p99, 1)} ms`,
    );
  console.log(`    /api/v1/events/stats (24 h, informational): p50 ${fmt(r.statsP50, 1)} ms`);
}

// ---------------------------------------------------------------------------------------------
// Roles: the parent runs the benchmark; children serve (the real server, or the baseline).
if (process.argv[2] === '--serve') {
  const options = JSON.parse(process.argv[3]);
  const { startServer } = await import(pathToFileURL(serverDist).href);
  const server = await startServer({
    port: 0,
    dashboardDir: null,
    logger: false,
    // The benchmark measures the server, not the protective per-key limit.
    rateLimit: { eventsPerSecond: 10_000_000, burstEvents: 10_000_000 },
    retention: false,
    ...options,
  });
  process.send({ url: server.url });
  process.on('message', async (message) => {
    if (message === 'stop') {
      await server.close();
      process.exit(0);
    }
  });
} else if (process.argv[2] === '--baseline') {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: body.events.length }));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
  process.on('message', (m) => m === 'stop' && server.close(() => process.exit(0)));
} else {
  await main();
}
