import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fresh temporary directory, removed by the returned cleanup. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `lambda-sim-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(path: string, content: string, executable = false): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  if (executable) chmodSync(path, 0o755);
  return path;
}

/** A CommonJS handler echoing what the runtime hands it: event, context and Lambda's variables. */
export const CJS_ECHO_HANDLER = `
const seen = [];
exports.handler = async (event, context) => {
  seen.push(context.awsRequestId);
  console.log('cjs handler', context.awsRequestId);
  return {
    event,
    invocations: seen.length,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext,
    identity: context.identity,
    traceId: process.env._X_AMZN_TRACE_ID,
    env: process.env,
    execArgv: process.execArgv,
    argv: process.argv,
  };
};
`;

/** An ES module handler (module syntax, top-level await). */
export const ESM_HANDLER = `
const loadedAt = await Promise.resolve(Date.now());
let count = 0;
export const handler = async (event, context) => {
  count += 1;
  console.log('esm handler', context.awsRequestId);
  return { esm: true, event, count, loadedAt, requestId: context.awsRequestId };
};
`;

/** Behaviour of the sample external extension written by `writeExtension`. */
export interface SampleExtensionConfig {
  /** File every step is appended to, one line each: `<name> <what> <detail>`. */
  recordFile: string;
  events?: string[];
  /** Subscribe to the Telemetry API and wait for platform.runtimeDone before each next. */
  telemetry?: boolean;
  /** Telemetry types to subscribe to (default platform). */
  telemetryTypes?: string[];
  /** Sleep this long after each INVOKE before asking for the next event. */
  postInvokeDelayMs?: number;
  /** Ignore SHUTDOWN (keep running) to test the SIGKILL after 2 s. */
  ignoreShutdown?: boolean;
  /** Report an init error instead of asking for the first event. */
  initError?: string;
  /** Exit before registering. */
  exitBeforeRegister?: number;
  /** Write a tick line every 20 ms (to observe freezing). */
  tick?: boolean;
}

/**
 * A small external extension in plain Node (no dependencies), written into `<layerDir>/extensions/<name>`
 * as an executable, as a real layer ships them.
 */
export function writeExtension(layerDir: string, name: string, config: SampleExtensionConfig): string {
  return writeFile(
    join(layerDir, 'extensions', name),
    `#!/usr/bin/env node
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const config = ${JSON.stringify(config)};
const name = ${JSON.stringify(name)};
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const record = (what, detail = '') => fs.appendFileSync(config.recordFile, name + ' ' + what + ' ' + detail + '\\n');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function call(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (chunk) => (data += chunk)).on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers,
          body: data && String(res.headers['content-type']).includes('json') ? JSON.parse(data) : data }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const runtimeDone = new Set();
let onTelemetry = () => {};
function listen() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (chunk) => (data += chunk)).on('end', () => {
        for (const event of JSON.parse(data)) {
          const id = event.record && typeof event.record === 'object' ? event.record.requestId || event.record.name || '' : '';
          record('telemetry', event.type + ' ' + id + ' ' + JSON.stringify(event.record));
          if (event.type === 'platform.runtimeDone') runtimeDone.add(event.record.requestId);
        }
        res.end('ok');
        onTelemetry();
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function main() {
  if (config.exitBeforeRegister !== undefined) process.exit(config.exitBeforeRegister);
  if (config.tick) setInterval(() => record('tick', String(Date.now())), 20);
  const registered = await call('POST', '/2020-01-01/extension/register',
    { 'Lambda-Extension-Name': name, 'Lambda-Extension-Accept-Feature': 'accountId' },
    { events: config.events || ['INVOKE', 'SHUTDOWN'] });
  record('registered', JSON.stringify({ status: registered.status, body: registered.body }));
  const id = registered.headers['lambda-extension-identifier'];
  const env = {};
  for (const key of ['AWS_EXECUTION_ENV', '_HANDLER', 'LAMBDA_TASK_ROOT', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_REGION', 'AWS_LAMBDA_RUNTIME_API', 'NODE_PATH']) env[key] = process.env[key];
  record('env', JSON.stringify(env));
  if (config.initError) {
    await call('POST', '/2020-01-01/extension/init/error',
      { 'Lambda-Extension-Identifier': id, 'Lambda-Extension-Function-Error-Type': config.initError },
      { errorMessage: 'sample extension failed on purpose', errorType: config.initError });
    process.exit(1);
  }
  if (config.telemetry) {
    const listenerPort = await listen();
    const subscribed = await call('PUT', '/2022-07-01/telemetry', { 'Lambda-Extension-Identifier': id }, {
      schemaVersion: '2022-12-13',
      types: config.telemetryTypes || ['platform'],
      buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
      destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:' + listenerPort + '/telemetry' },
    });
    record('subscribed', String(subscribed.status));
  }
  for (;;) {
    const event = (await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id })).body;
    if (event.eventType === 'INVOKE') {
      record('event', 'INVOKE ' + event.requestId + ' ' + JSON.stringify(event));
      if (config.telemetry) {
        while (!runtimeDone.has(event.requestId)) await new Promise((resolve) => (onTelemetry = resolve));
        record('done', event.requestId);
      }
      if (config.postInvokeDelayMs) await sleep(config.postInvokeDelayMs);
    } else if (event.eventType === 'SHUTDOWN') {
      record('event', 'SHUTDOWN ' + event.shutdownReason + ' ' + JSON.stringify(event));
      if (config.ignoreShutdown) {
        setInterval(() => {}, 1000);
        return;
      }
      await sleep(50);
      record('exit');
      process.exit(0);
    }
  }
}
main().catch((error) => { record('failed', String(error && error.stack)); process.exit(2); });
`,
    true,
  );
}

/** The recorded lines of a sample extension, without its name prefix. */
export function readRecord(recordFile: string, name: string): string[] {
  let text = '';
  try {
    text = readFileSync(recordFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `))
    .map((line) => line.slice(name.length + 1).trimEnd());
}
