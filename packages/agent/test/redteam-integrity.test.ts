// Red team, the agent's own integrity: a hostile app tries to reach the agent's state (its module
// exports, its hand-off files) or to silence and forge its reporting. The observers live in the test
// process: a loopback server on 127.0.0.2 that must see no connection, and the event files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentPath, appResults, cleanup, policy, runFixture } from './harness.js';
import { attackSource, DENY_ALL, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

async function run(body: string, fields: Record<string, unknown> = {}) {
  const before = server.accepted();
  const result = await runFixture({
    policy: { ...DENY_ALL, ...fields },
    source: attackSource(body),
    env: { RT_PORT: String(server.port), RT_AGENT: agentPath },
  });
  return { result, accepted: server.accepted() - before };
}

describe("red team: the agent's state is out of the app's reach", () => {
  it('exports nothing through require.cache: the live context and its decider cannot be swapped', async () => {
    const { result, accepted } = await run(`
      const exported = Object.values(require.cache).filter((m) => m && m.exports && typeof m.exports.getContext === 'function');
      for (const m of exported) { const context = m.exports.getContext(); if (context) context.decider = { decide: () => ({ verdict: 'grant', rule: 'x' }) }; }
      report({ exported: exported.length, ...(await tryConnect({ host: FORBIDDEN, port: PORT })) });`);
    expect(appResults(result)).toEqual([{ exported: 0, error: 'ERR_ACCESS_DENIED' }]);
    expect(accepted).toBe(0);
    cleanup(result);
  });

  it('requiring the agent file again (the path is in NODE_OPTIONS/execArgv) gives nothing either', async () => {
    const { result, accepted } = await run(`
      const agent = require(process.env.RT_AGENT);
      delete require.cache[process.env.RT_AGENT];
      const fresh = require(process.env.RT_AGENT);
      report({ keys: [...Object.keys(agent), ...Object.keys(fresh)].filter((k) => k !== '__esModule'), ...(await tryConnect({ host: FORBIDDEN, port: PORT })) });`);
    expect(appResults(result)).toEqual([{ keys: [], error: 'ERR_ACCESS_DENIED' }]);
    expect(accepted).toBe(0);
    cleanup(result);
  });

  it('under filesystem deny, the app can neither forge events in the spool nor plant a policy in ES_RUNTIME_DIR', async () => {
    const { result } = await run(`
      const dir = process.env.ES_RUNTIME_DIR;
      const forged = JSON.stringify({ category: 'network', action: 'observe', operation: 'connect', target: 'forged.test:1', policyGroup: 'forged' });
      report({
        spool: attempt(() => fs.appendFileSync(dir + '/events.ndjson', forged + '\\n')),
        policy: attempt(() => fs.writeFileSync(dir + '/policy.json', JSON.stringify({ policy: { name: 'open', network: 'grant' } }))),
        runtime: attempt(() => fs.writeFileSync(dir + '/runtime.json', '{}')),
        remove: attempt(() => fs.unlinkSync(dir + '/events.ndjson')),
      });`);
    expect(appResults(result)).toEqual([
      {
        spool: { error: 'ERR_ACCESS_DENIED' },
        policy: { error: 'ERR_ACCESS_DENIED' },
        runtime: { error: 'ERR_ACCESS_DENIED' },
        remove: { error: 'ERR_ACCESS_DENIED' },
      },
    ]);
    expect(result.spoolEvents.some((event) => String(event.target).includes('forged'))).toBe(false);
    expect(existsSync(join(result.runtimeDir, 'policy.json'))).toBe(false);
    // the denials themselves are reported, by the agent, in the spool
    expect(result.spoolEvents.filter((event) => event.category === 'filesystem')).not.toHaveLength(0);
    cleanup(result);
  });
});

describe("red team: the app's code never runs with the agent's exemption", () => {
  it("Object.prototype getters that Node's internals read during the agent's own work (its lookups, a failed event write) are judged like the app", async () => {
    const { result, accepted } = await run(`
      const smuggled = process.env.ES_EVENT_FILE + '.inside';
      const tries = {};
      for (const name of ['hints', 'family', 'verbatim', 'order', 'errno', 'syscall']) {
        Object.defineProperty(Object.prototype, name, {
          configurable: true,
          get() { tries[name] = attempt(() => fs.writeFileSync(smuggled + '-' + name, 'x')).error || 'wrote'; return undefined; },
          set(value) { Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true }); },
        });
      }
      await settle(100); // the agent resolves its allowed names on a later turn of the event loop
      fs.closeSync(1); // its next event write to stdout fails, and the failure path reads ctx.errno
      const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
      await settle(100);
      for (const name of Object.keys(tries)) delete Object.prototype[name];
      fs.writeSync(2, JSON.stringify({ tries, outcome }) + '\\n');`);
    expect(accepted).toBe(0);
    const line = result.stderr.split('\n').find((text) => text.startsWith('{"tries"')) ?? '{}';
    const { tries } = JSON.parse(line) as { tries?: Record<string, string> };
    expect(Object.keys(tries ?? {}).length, result.stderr).toBeGreaterThan(0);
    for (const outcome of Object.values(tries ?? {})) expect(outcome).toBe('ERR_ACCESS_DENIED');
    expect(readdirSync(result.workDir).filter((name) => name.includes('.inside'))).toEqual([]);
    cleanup(result);
  });
});

describe('red team: a frozen Error.stackTraceLimit', () => {
  it('the connection is still refused and reported once on stdout (see redteam-round4 for the other sinks)', async () => {
    const { result, accepted } = await run(`
      Object.defineProperty(Error, 'stackTraceLimit', { value: 0, writable: false, configurable: false });
      report({ error: (await tryConnect({ host: FORBIDDEN, port: PORT })).error });`);
    expect(accepted).toBe(0);
    expect(appResults(result)).toEqual([{ error: 'ERR_ACCESS_DENIED' }]);
    expect(result.stdoutEvents.filter((event) => String(event.target).startsWith('127.0.0.2:'))).toHaveLength(
      1,
    );
    cleanup(result);
  });
});

describe('red team: reporting cannot be silenced or faked', () => {
  const denied = (events: Array<Record<string, unknown>>) =>
    events.filter((event) => event.action === 'deny' && String(event.target).startsWith('127.0.0.2:'));

  it('JSON.stringify replaced: the deny event is still written, intact, everywhere', async () => {
    const { result, accepted } = await run(`
      JSON.stringify = () => '{"category":"network","action":"observe","target":"forged"}';
      report({ error: (await tryConnect({ host: FORBIDDEN, port: PORT })).error });`);
    expect(accepted).toBe(0);
    expect(denied(result.events)).toHaveLength(1);
    expect(denied(result.spoolEvents)).toHaveLength(1);
    expect(result.events.some((event) => event.target === 'forged')).toBe(false);
    cleanup(result);
  });

  it('Object.prototype.toJSON / Array.prototype.toJSON set: events cannot be rewritten on their way out', async () => {
    const { result, accepted } = await run(`
      Object.prototype.toJSON = function () { return this && this.category === 'network' ? { category: 'network', action: 'observe', operation: 'connect', target: 'forged' } : this; };
      Array.prototype.toJSON = function () { return ['forged.js:1:1 forged']; };
      const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
      delete Object.prototype.toJSON;
      delete Array.prototype.toJSON;
      report({ error: outcome.error });`);
    expect(accepted).toBe(0);
    expect(denied(result.events)).toHaveLength(1);
    expect(denied(result.spoolEvents)).toHaveLength(1);
    expect(result.stdout).not.toContain('forged');
    expect(readFileSync(join(result.workDir, 'events.ndjson'), 'utf8')).not.toContain('forged');
    cleanup(result);
  });

  it("the app closes the agent's event-file descriptors and reopens the numbers as its own: events still reach ES_EVENT_FILE and the spool", async () => {
    const { result, accepted } = await run(
      `
      const first = await tryConnect({ host: FORBIDDEN, port: PORT });
      const taken = [];
      for (let fd = 3; fd < 64; fd++) {
        try { if (fs.fstatSync(fd).isFile()) { fs.closeSync(fd); taken.push(fs.openSync('/dev/null', 'a')); } } catch {}
      }
      const second = await tryConnect({ host: FORBIDDEN, port: PORT });
      report({ first: first.error, second: second.error });`,
      { filesystem: 'observe' },
    );
    expect(accepted).toBe(0);
    expect(appResults(result)).toEqual([{ first: 'ERR_ACCESS_DENIED', second: 'ERR_ACCESS_DENIED' }]);
    const total = (events: Array<Record<string, unknown>>) =>
      denied(events).reduce((sum, event) => sum + Number(event.count ?? 1), 0);
    expect(total(result.events)).toBe(2);
    expect(total(result.spoolEvents)).toBe(2);
    cleanup(result);
  });

  it('process.stdout.write silenced and fd 1 closed: the event still reaches ES_EVENT_FILE and the spool', async () => {
    const { result, accepted } = await run(`
      process.stdout.write = () => true;
      const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
      fs.closeSync(1);
      const again = await tryConnect({ host: FORBIDDEN, port: PORT });
      fs.writeSync(2, JSON.stringify({ outcome, again }) + '\\n');`);
    expect(accepted).toBe(0);
    expect(
      JSON.parse(result.stderr.split('\n').find((line) => line.startsWith('{"outcome"')) ?? '{}'),
    ).toEqual({
      outcome: { error: 'ERR_ACCESS_DENIED' },
      again: { error: 'ERR_ACCESS_DENIED' },
    });
    expect(denied(result.stdoutEvents)).toHaveLength(1);
    expect(denied(result.events).reduce((sum, event) => sum + Number(event.count ?? 1), 0)).toBe(2);
    expect(denied(result.spoolEvents).reduce((sum, event) => sum + Number(event.count ?? 1), 0)).toBe(2);
    cleanup(result);
  });

  it('terminateOnDeny ends the process although process.exit, process.reallyExit and process.kill were replaced', async () => {
    const { result, accepted } = await run(
      `
      process.exit = () => {};
      process.reallyExit = () => {};
      process.kill = () => true;
      process.on('exit', () => fs.writeSync(2, 'exit handler ran\\n'));
      const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
      report({ survived: true, outcome });`,
      { terminateOnDeny: true },
    );
    expect(result.code).toBe(70);
    expect(result.appOutput).not.toContain('survived');
    expect(result.stderr).not.toContain('exit handler ran');
    expect(accepted).toBe(0);
    expect(denied(result.events)).toEqual([expect.objectContaining({ terminated: true })]);
    cleanup(result);
  });

  it('Error.prepareStackTrace and Error.captureStackTrace replaced: the event still names the real caller', async () => {
    const { result, accepted } = await run(`
      Error.prepareStackTrace = () => [];
      Error.captureStackTrace = (target) => { target.stack = 'forged.js:1:1'; };
      Error.stackTraceLimit = 0;
      report({ error: (await tryConnect({ host: FORBIDDEN, port: PORT })).error });`);
    expect(accepted).toBe(0);
    const [event] = denied(result.events);
    expect(event?.stack).toEqual(expect.arrayContaining([expect.stringMatching(/app\.cjs:\d+:\d+/)]));
    expect(JSON.stringify(event)).not.toContain('forged');
    cleanup(result);
  });

  it('control: the observer sees the spool the agent writes (events.ndjson in ES_RUNTIME_DIR)', async () => {
    const { result } = await run(
      `report({ error: (await tryConnect({ host: FORBIDDEN, port: PORT })).error });`,
      {
        filesystem: 'grant',
      },
    );
    expect(readFileSync(join(result.runtimeDir, 'events.ndjson'), 'utf8')).toContain('127.0.0.2:');
    cleanup(result);
  });
});

void policy;
