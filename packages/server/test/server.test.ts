import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, openStorage, type Storage, startServer } from '../src/index.js';
import { bearer, callApi, makeEvent, signUp } from './helpers.js';
import { connectSse } from './sse-client.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'appdefender-server-socket-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('startServer over a real socket', () => {
  it('listens, answers /healthz, publishes the OpenAPI document with every contract route', async () => {
    const server = await startServer({ port: 0, dataDir: path.join(dir, 'a'), dashboardDir: null });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok' });

      const doc = await (await fetch(`${server.url}/api/openapi.json`)).json();
      expect(doc.openapi).toMatch(/^3\./);
      const routes: Array<[string, string]> = [
        ['get', '/healthz'],
        ['post', '/api/v1/signup'],
        ['post', '/api/v1/login'],
        ['post', '/api/v1/temporary-keys'],
        ['get', '/api/v1/policy-groups'],
        ['post', '/api/v1/policy-groups'],
        ['get', '/api/v1/policy-groups/{name}'],
        ['put', '/api/v1/policy-groups/{name}'],
        ['delete', '/api/v1/policy-groups/{name}'],
        ['get', '/api/v1/agent/policy'],
        ['post', '/api/v1/agent/functions'],
        ['post', '/api/v1/agent/events'],
        ['get', '/api/v1/functions'],
        ['get', '/api/v1/events'],
        ['get', '/api/v1/events/stream'],
        ['get', '/api/v1/events/stats'],
        ['get', '/api/v1/me'],
        ['get', '/api/v1/events/{id}'],
        ['get', '/api/v1/license-keys'],
        ['post', '/api/v1/license-keys'],
        ['delete', '/api/v1/license-keys/{id}'],
        ['get', '/api/v1/api-tokens'],
        ['post', '/api/v1/api-tokens'],
        ['delete', '/api/v1/api-tokens/{id}'],
      ];
      for (const [method, route] of routes)
        expect(doc.paths[route]?.[method], `${method} ${route}`).toBeDefined();
      expect(doc.paths['/api/v1/agent/events'].post.requestBody).toBeDefined();
      expect(doc.components.securitySchemes).toHaveProperty('licenseKey');
      expect(doc.components.schemas).toHaveProperty('LicenseKey');
      expect(doc.components.schemas).toHaveProperty('ApiToken');

      const missing = await fetch(`${server.url}/api/v1/nothing-here`);
      expect(missing.status).toBe(404);
      expect((await missing.json()).error.code).toBe('NOT_FOUND');
      const home = await fetch(`${server.url}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('dashboard is not built');
    } finally {
      await server.close();
    }
  });

  it('serves a built dashboard at / with SPA fallback for non-API paths', async () => {
    const dashboardDir = path.join(dir, 'dashboard');
    await mkdir(path.join(dashboardDir, 'assets'), { recursive: true });
    await writeFile(
      path.join(dashboardDir, 'index.html'),
      '<!doctype html><title>dash</title><div id="root"></div>',
    );
    await writeFile(path.join(dashboardDir, 'assets', 'app.js'), 'console.log("dash")');
    const server = await startServer({ port: 0, dataDir: path.join(dir, 'b'), dashboardDir });
    try {
      const home = await fetch(`${server.url}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('<title>dash</title>');
      const asset = await fetch(`${server.url}/assets/app.js`);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      const deepLink = await fetch(`${server.url}/events/some-id`);
      expect(deepLink.status).toBe(200);
      expect(await deepLink.text()).toContain('<title>dash</title>');
      const api = await fetch(`${server.url}/api/v1/unknown`);
      expect(api.status).toBe(404);
      expect(api.headers.get('content-type')).toMatch(/json/);
    } finally {
      await server.close();
    }
  });

  it('shuts down gracefully: ends live streams, finishes an in-flight batch, loses no accepted event', async () => {
    const dataDir = path.join(dir, 'c');
    const server = await startServer({ port: 0, dataDir, dashboardDir: null });
    const user = await signUp(server.app);
    const stream = await connectSse(`${server.url}/api/v1/events/stream`, bearer(user.apiToken));
    const events = Array.from({ length: 1000 }, () => makeEvent());
    const body = Buffer.from(JSON.stringify({ events }));
    const { port } = new URL(server.url);

    // Send half the body, start the shutdown, then send the rest: the request was accepted
    // before close() and must complete.
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/agent/events',
          headers: {
            ...bearer(user.licenseKey),
            'content-type': 'application/json',
            'content-length': body.length,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      // Start the shutdown once the server has the request (headers parsed), mid-body.
      server.app.server.once('request', () => {
        closing = server.close();
        setTimeout(() => request.end(body.subarray(body.length / 2)), 100);
      });
      request.write(body.subarray(0, body.length / 2));
    });
    let closing: Promise<void> | undefined;
    const result = await response;
    await closing;
    await stream.ended;
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body).accepted).toBe(1000);

    const reopened: Storage = await openStorage({ dataDir });
    try {
      const app = await buildApp({ storage: reopened, dashboardDir: null });
      const list = await callApi(app, 'GET', '/api/v1/events?limit=1000', bearer(user.apiToken));
      expect(list.json().events).toHaveLength(1000);
      await app.close();
    } finally {
      await reopened.close();
    }
  });
});

describe('main.ts (the runnable entry)', () => {
  it('starts on --port 0 --data DIR, logs structured JSON, stops on SIGTERM with exit code 0', async () => {
    // Bundle the entry with its workspace dependency; npm packages stay external and resolve
    // from the package's node_modules, so the bundle must live inside the package.
    const outDir = path.join(packageDir, 'test-artifacts');
    await mkdir(outDir, { recursive: true });
    const outfile = path.join(outDir, `main-${process.pid}.mjs`);
    await build({
      entryPoints: [path.join(packageDir, 'src', 'main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3', 'pg', 'kysely', 'fastify', '@fastify/*', 'ajv', 'ajv-formats'],
      alias: { '@appdefender/policy': path.join(packageDir, '..', 'policy', 'src', 'index.ts') },
      logLevel: 'silent',
    });
    try {
      const child = spawn(process.execPath, [outfile, '--port', '0', '--data', path.join(dir, 'main')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 15_000);
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          for (const line of stdout.split('\n')) {
            if (!line.startsWith('{')) continue;
            const entry = JSON.parse(line) as { msg?: string; url?: string };
            if (entry.msg === 'control plane listening' && entry.url) {
              clearTimeout(timer);
              resolve(entry.url);
            }
          }
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(stdout).toContain('"msg":"shutting down"');

      const bad = spawn(process.execPath, [outfile, '--port', 'eighty'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let badErr = '';
      bad.stderr.on('data', (chunk) => {
        badErr += chunk;
      });
      const badExit = await new Promise<number | null>((resolve) => bad.on('exit', (code) => resolve(code)));
      expect(badExit).toBe(2);
      expect(badErr).toContain('--port must be an integer');
    } finally {
      await rm(outfile, { force: true });
    }
  });
});
