// Under grant and observe the agent must be invisible to real libraries: the same program prints the
// same results with and without it. undici, axios, ws, global fetch and the AWS SDK v3 (an S3 client
// against a small S3-compatible server on loopback).
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, policy, requireDependency, runFixture } from './harness.js';

const SCENARIO = `
  const http = require('node:http');
  const undici = ${requireDependency('undici')};
  const axios = ${requireDependency('axios')};
  const { WebSocket, WebSocketServer } = ${requireDependency('ws')};
  const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = ${requireDependency('@aws-sdk/client-s3')};

  /** A tiny S3-compatible store: PUT, GET and ListObjectsV2 on path-style URLs. */
  function s3Server() {
    const objects = new Map();
    return http.createServer((request, response) => {
      const url = new URL(request.url, 'http://x');
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const key = decodeURIComponent(url.pathname);
        if (request.method === 'PUT') {
          objects.set(key, Buffer.concat(chunks));
          response.setHeader('ETag', '"etag-' + objects.size + '"');
          return response.end();
        }
        if (request.method === 'GET' && url.searchParams.get('list-type') === '2') {
          const keys = [...objects.keys()].map((k) => '<Contents><Key>' + k.split('/').slice(2).join('/') + '</Key><Size>' + objects.get(k).length + '</Size></Contents>').join('');
          response.setHeader('content-type', 'application/xml');
          return response.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bucket</Name><KeyCount>' + objects.size + '</KeyCount>' + keys + '</ListBucketResult>');
        }
        if (request.method === 'GET' && objects.has(key)) {
          response.setHeader('content-type', 'text/plain');
          return response.end(objects.get(key));
        }
        response.statusCode = 404;
        response.end('<Error><Code>NoSuchKey</Code><Message>none</Message></Error>');
      });
    });
  }

  const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

  (async () => {
    const results = {};
    const echo = http.createServer((request, response) => {
      let body = '';
      request.on('data', (c) => (body += c));
      request.on('end', () => response.end(JSON.stringify({ method: request.method, url: request.url, body })));
    });
    const echoPort = await listen(echo);
    const base = 'http://localhost:' + echoPort;

    const viaUndici = await undici.request(base + '/u?x=1', { method: 'POST', body: 'u' });
    results.undici = { status: viaUndici.statusCode, body: await viaUndici.body.json() };
    const viaAxios = await axios.post(base + '/a', { a: 1 });
    results.axios = { status: viaAxios.status, body: viaAxios.data };
    const viaFetch = await fetch(base + '/f', { method: 'PUT', body: 'f' });
    results.fetch = { status: viaFetch.status, body: await viaFetch.json() };
    results.axiosGet = (await axios.get(base + '/g', { params: { q: 'z' } })).data;

    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.on('listening', resolve));
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send('echo:' + data)));
    results.ws = await new Promise((resolve, reject) => {
      const client = new WebSocket('ws://localhost:' + wss.address().port);
      client.on('open', () => client.send('ping'));
      client.on('message', (data) => { client.close(); resolve(String(data)); });
      client.on('error', reject);
    });
    wss.close();

    const s3 = s3Server();
    const s3Port = await listen(s3);
    const client = new S3Client({
      endpoint: 'http://localhost:' + s3Port,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const put = await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'a/b.txt', Body: 'hello s3' }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'a/b.txt' }));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'bucket' }));
    const missing = await client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'nope' })).catch((e) => e.name);
    results.s3 = { etag: put.ETag, body: await got.Body.transformToString(), keys: listed.Contents.map((c) => c.Key), missing };
    client.destroy();

    s3.close();
    echo.close();
    require('node:http').globalAgent.destroy();
    console.log(JSON.stringify({ result: results }));
  })().catch((error) => { console.error(error); process.exit(1); });
`;

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('transparency for real libraries', () => {
  let baseline: Record<string, unknown>;

  beforeAll(async () => {
    baseline = appResult(
      await runFixture({ agent: false, policy: null, source: SCENARIO, timeoutMs: 30_000 }),
    );
  }, 60_000);

  it('the scenario works without the agent', () => {
    expect(baseline).toMatchObject({
      undici: { status: 200, body: { method: 'POST', url: '/u?x=1', body: 'u' } },
      axios: { status: 200 },
      fetch: { status: 200, body: { method: 'PUT', body: 'f' } },
      ws: 'echo:ping',
      s3: { body: 'hello s3', keys: ['a/b.txt'], missing: 'NoSuchKey' },
    });
  });

  for (const mode of ['grant', 'observe'] as const) {
    it(`gives the same results under ${mode}`, async () => {
      const run = await runFixture({
        policy: policy({ name: `transparency-${mode}`, network: mode, filesystem: mode, process: mode }),
        source: SCENARIO,
        timeoutMs: 30_000,
      });
      expect(run.code).toBe(0);
      expect(appResult(run)).toEqual(baseline);
      if (mode === 'grant') expect(run.events).toEqual([]);
      else expect(run.events.filter((event) => event.category === 'network').length).toBeGreaterThan(0);
      expect(run.stderr).not.toContain('[appdefender]');
    }, 60_000);
  }

  it('lets an allowed-domain policy under deny run the same scenario', async () => {
    const run = await runFixture({
      policy: policy({ name: 'transparency-deny', network: 'deny', allowedDomains: ['localhost'] }),
      source: SCENARIO,
      timeoutMs: 30_000,
    });
    expect(appResult(run)).toEqual(baseline);
    expect(run.events.filter((event) => event.category === 'network')).toEqual([]);
  }, 60_000);
});
