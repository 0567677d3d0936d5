/**
 * The runtime's own work in the local Lambda (the real aws-lambda-ric, LAMBDA_RUNTIME_DIR = its
 * package directory, as /var/runtime is in Lambda): loading its native Runtime API client
 * (`rapid-client.node`, through process.dlopen) and resolving and loading the handler module
 * (`existsSync` probes of `<task root>/index`, `index.js`, `index.mjs`..., then `import()`) is never
 * blocked and never reported, even under `process: deny` and `filesystem: observe`/`deny`; while the
 * handler's own spawns, addon loads and /tmp reads are still judged.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type LambdaSim, startLambda } from '@appdefender/lambda-sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  agentPath,
  appResult,
  cleanup,
  ensureAgentBuilt,
  policy,
  runFixture,
  testNodeBinary,
} from './harness.js';

const tempDirs: string[] = [];
const lambdas: LambdaSim[] = [];

function freshDir(prefix: string): string {
  const dir = fs.mkdtempSync(join('/tmp', `runtime-exemptions-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** The aws-lambda-ric package directory: the local Lambda's LAMBDA_RUNTIME_DIR (/var/runtime). */
function ricDir(): string {
  return dirname(fs.realpathSync(createRequire(import.meta.url).resolve('aws-lambda-ric/package.json')));
}

beforeAll(() => ensureAgentBuilt());

afterEach(async () => {
  for (const lambda of lambdas.splice(0)) await lambda.shutdown();
});

afterAll(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** What the handler does, chosen by the invocation's event. */
const OPS = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
async function runOps(event) {
  const result = {};
  if (event.spawn) {
    const child = spawnSync('/bin/true');
    result.spawn = child.error ? child.error.code : 'ran';
  }
  if (event.dlopen) {
    try {
      process.dlopen({ exports: {} }, event.dlopen);
      result.dlopen = 'loaded';
    } catch (error) {
      result.dlopen = error.code ?? String(error);
    }
  }
  if (event.probe) result.probe = event.probe.map((path) => fs.existsSync(path));
  if (event.read) {
    try {
      result.read = fs.readFileSync(event.read, 'utf8');
    } catch (error) {
      result.read = error.code ?? String(error);
    }
  }
  return result;
}
module.exports = { runOps };
`;

const HANDLERS = {
  cjs: {
    file: 'index.js',
    source: `const { runOps } = require('./ops.cjs');
/*TOP-LEVEL*/
exports.handler = async (event) => ({ module: 'commonjs', ...(await runOps(event)) });
`,
  },
  esm: {
    file: 'index.mjs',
    source: `import { createRequire } from 'node:module';
const { runOps } = createRequire(import.meta.url)('./ops.cjs');
/*TOP-LEVEL*/
export const handler = async (event) => ({ module: 'esm', ...(await runOps(event)) });
`,
  },
} as const;

interface StartedFunction {
  lambda: LambdaSim;
  taskRoot: string;
  events: () => AgentEvent[];
}

/**
 * Starts the local Lambda with the agent preloaded through NODE_OPTIONS (no layer, no extension).
 * @param topLevel code run by the handler module when it loads (`require`d fs is not in scope)
 */
async function startFunction(
  kind: keyof typeof HANDLERS,
  policy: Record<string, unknown>,
  topLevel = '',
): Promise<StartedFunction> {
  const work = freshDir(kind);
  const taskRoot = join(work, 'task');
  fs.mkdirSync(taskRoot);
  fs.writeFileSync(join(taskRoot, 'ops.cjs'), OPS);
  fs.writeFileSync(
    join(taskRoot, HANDLERS[kind].file),
    HANDLERS[kind].source.replace('/*TOP-LEVEL*/', topLevel),
  );
  const policyFile = join(work, 'policy.json');
  fs.writeFileSync(policyFile, JSON.stringify({ name: 'runtime-exemptions', ...policy }));
  const eventFile = join(work, 'events.ndjson');
  const lambda = await startLambda({
    handler: 'index.handler',
    taskRoot,
    env: {
      NODE_OPTIONS: `--require ${agentPath}`,
      ES_POLICY_FILE: policyFile,
      ES_EVENT_FILE: eventFile,
      ES_RUNTIME_DIR: join(work, '.appdefender'),
      ES_AGGREGATE_WINDOW_MS: '0',
    },
    timeoutMs: 10_000,
  });
  lambdas.push(lambda);
  const events = () =>
    fs.existsSync(eventFile)
      ? fs
          .readFileSync(eventFile, 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as AgentEvent)
      : [];
  return { lambda, taskRoot, events };
}

const STRICT = { process: 'deny', filesystem: 'observe', network: 'deny' };

describe.each(['cjs', 'esm'] as const)('the runtime own work, %s handler', (kind) => {
  it('starts under process deny and reports nothing of the runtime or the handler loading', async () => {
    // Act
    const fn = await startFunction(kind, STRICT);
    const result = await fn.lambda.invoke({});

    // Assess
    expect(result.status).toBe('success');
    expect(result.result).toEqual({ module: kind === 'cjs' ? 'commonjs' : 'esm' });
    expect(fn.events()).toEqual([]);
  });

  it('starts under filesystem deny: the runtime finds the handler, the handler cannot read /tmp', async () => {
    // Prepare
    const secret = join(freshDir(`${kind}-deny`), 'secret.txt');
    fs.writeFileSync(secret, 'secret');
    const fn = await startFunction(kind, { ...STRICT, filesystem: 'deny' });

    // Act
    const result = await fn.lambda.invoke({ read: secret });

    // Assess
    expect(result.result).toMatchObject({ read: 'ERR_ACCESS_DENIED' });
    expect(fn.events().map((event) => `${event.action} ${event.operation} ${event.target}`)).toEqual([
      `deny read ${secret}`,
    ]);
  });

  it("reports the application's own probes of the handler files, from its first line on", async () => {
    // Prepare: top-level code probes candidates the runtime probes too, also from code compiled
    // under the runtime's file name (frames can be forged; the exemption does not look at them)
    const topLevel = `
const probeFs = process.getBuiltinModule('node:fs');
const forged = process.env.LAMBDA_RUNTIME_DIR + '/index.mjs';
globalThis.topLevelProbes = [
  probeFs.existsSync(process.env.LAMBDA_TASK_ROOT + '/index.cjs'),
  eval("process.getBuiltinModule('node:fs').existsSync(process.env.LAMBDA_TASK_ROOT + '/index')\\n//# sourceURL=" + forged),
  process.getBuiltinModule('node:vm').runInThisContext(
    "process.getBuiltinModule('node:fs').existsSync(process.env.LAMBDA_TASK_ROOT + '/package.json')",
    { filename: forged },
  ),
];
`;
    const fn = await startFunction(kind, STRICT, topLevel);

    // Act
    const result = await fn.lambda.invoke({ probe: [join(fn.taskRoot, 'index.mjs')] });

    // Assess
    expect(result.result).toMatchObject({ probe: [kind === 'esm'] });
    const reads = fn.events().map((event) => `${event.action} ${event.operation} ${event.target}`);
    expect(reads.sort()).toEqual(
      ['index.cjs', 'index', 'package.json', 'index.mjs']
        .map((name) => `observe read ${join(fn.taskRoot, name)}`)
        .sort(),
    );
  });

  it("still judges the handler's own spawns, addon loads and /tmp reads", async () => {
    // Prepare: an addon outside the runtime directory (a copy of the runtime's own one) and a file
    const work = freshDir(`${kind}-ops`);
    const runtimeAddon = join(ricDir(), 'rapid-client.node');
    const addon = join(work, 'copied.node');
    fs.copyFileSync(runtimeAddon, addon);
    const secret = join(work, 'secret.txt');
    fs.writeFileSync(secret, 'secret');
    const fn = await startFunction(kind, STRICT);

    // Act
    const result = await fn.lambda.invoke({ spawn: true, dlopen: addon, read: secret });

    // Assess
    expect(result.result).toMatchObject({
      spawn: 'ERR_ACCESS_DENIED',
      dlopen: 'ERR_ACCESS_DENIED',
      read: 'secret',
    });
    const events = fn.events().map((event) => `${event.action} ${event.operation} ${event.target}`);
    expect(events.sort()).toEqual(
      [`deny spawn /bin/true`, `deny load ${addon}`, `observe read ${secret}`].sort(),
    );
  });
});

describe('the runtime directory', () => {
  it('is refused in /tmp (writable by the app): its addons are judged like any other', async () => {
    // Prepare
    const runtimeDir = freshDir('tmp-runtime');
    const addon = join(runtimeDir, 'rapid-client.node');
    fs.copyFileSync(join(ricDir(), 'rapid-client.node'), addon);

    // Act
    const run = await runFixture({
      source: `let code = 'loaded';
try { process.dlopen({ exports: {} }, ${JSON.stringify(addon)}); } catch (error) { code = error.code; }
console.log(JSON.stringify({ result: code }));`,
      policy: policy({ network: 'grant', filesystem: 'grant', process: 'deny' }),
      env: { LAMBDA_RUNTIME_DIR: runtimeDir },
    });

    // Assess
    try {
      expect(appResult(run)).toBe('ERR_ACCESS_DENIED');
      expect(run.stderr).toContain(`LAMBDA_RUNTIME_DIR=${runtimeDir} lies in or around /tmp`);
    } finally {
      cleanup(run);
    }
  });

  it("exempts handler probes only in the runtime's process, not in an app with Lambda's variables", async () => {
    // Prepare: an app loaded from outside the governed directories (so reading it ends nothing)
    // with the runtime's environment, probing what the runtime would probe
    const taskRoot = freshDir('not-runtime-task');
    fs.writeFileSync(join(taskRoot, 'index.js'), 'exports.handler = async () => 1;');
    const appDir = fs.mkdtempSync('/var/tmp/runtime-exemptions-app-');
    tempDirs.push(appDir);
    const app = join(appDir, 'app.cjs');
    fs.writeFileSync(
      app,
      `const fs = require('node:fs');
console.log(JSON.stringify({ result: [fs.existsSync(${JSON.stringify(join(taskRoot, 'index'))}), fs.existsSync(${JSON.stringify(join(taskRoot, 'index.js'))})] }));`,
    );

    // Act
    const run = await runFixture({
      file: app,
      policy: policy({ network: 'grant', filesystem: 'observe', process: 'deny' }),
      env: { LAMBDA_RUNTIME_DIR: ricDir(), LAMBDA_TASK_ROOT: taskRoot, _HANDLER: 'index.handler' },
    });

    // Assess
    try {
      expect(appResult(run)).toEqual([false, true]);
      expect(run.events.map((event) => `${event.action} ${event.operation} ${event.target}`)).toEqual([
        `observe read ${join(taskRoot, 'index')}`,
        `observe read ${join(taskRoot, 'index.js')}`,
      ]);
    } finally {
      cleanup(run);
    }
  });

  it("is this process's LAMBDA_RUNTIME_DIR: a child pointed at another directory has its addon loads judged", async () => {
    // Prepare: an addon in a writable directory outside /tmp and the application directory (refused
    // as a runtime directory anyway), which the app names as its child's runtime directory
    const runtimeDir = ricDir();
    const evilDir = fs.mkdtempSync('/var/tmp/runtime-exemptions-');
    tempDirs.push(evilDir);
    const evilAddon = join(evilDir, 'rapid-client.node');
    fs.copyFileSync(join(runtimeDir, 'rapid-client.node'), evilAddon);
    const childCode = `let code = 'loaded';
try { process.dlopen({ exports: {} }, ${JSON.stringify(evilAddon)}); } catch (error) { code = error.code; }
console.log(JSON.stringify({ code, runtimeDir: process.env.LAMBDA_RUNTIME_DIR }));`;

    // Act
    const run = await runFixture({
      source: `
const cp = require('node:child_process');
const out = cp.execFileSync(process.execPath, ['-e', ${JSON.stringify(childCode)}], {
  env: { ...process.env, LAMBDA_RUNTIME_DIR: ${JSON.stringify(evilDir)} },
});
console.log(JSON.stringify({ result: JSON.parse(String(out).split('\\n').find((line) => line.startsWith('{"code"'))) }));
`,
      // node itself may start (the child exists to be the app's accomplice); addons may not load
      policy: policy({
        network: 'grant',
        filesystem: 'grant',
        process: 'deny',
        // the node the fixture runs on (and spawns as process.execPath), which APPDEFENDER_TEST_NODE may choose
        allowedCommands: [testNodeBinary()],
      }),
      env: { LAMBDA_RUNTIME_DIR: runtimeDir },
    });

    // Assess
    try {
      expect(appResult(run)).toEqual({ code: 'ERR_ACCESS_DENIED', runtimeDir });
      expect(run.events.map((event) => `${event.action} ${event.operation} ${event.target}`)).toEqual([
        `deny load ${evilAddon}`,
      ]);
    } finally {
      cleanup(run);
    }
  });
});
