// Red team, JavaScript intrinsics: the app tampers with built-in prototypes the agent and the policy
// engine use on the decision path (Map/Set caches, string and regexp matching, iteration, inherited
// properties), hoping the decision comes out `grant`. Everything it does happens after the agent
// loaded; what the agent captured at load must decide. The observers (a loopback server on 127.0.0.2,
// a target file, a file a child process would create) live in the test process.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appResults, cleanup, runFixture } from './harness.js';
import { attackSource, DENY_ALL, targetDir, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

/** Runs an attack; the server must see nothing and the target must not exist. */
async function expectBlocked(body: string): Promise<Record<string, unknown>[]> {
  const target = targetDir();
  const targetFile = join(target.dir, 'written-by-the-attack');
  try {
    const before = server.accepted();
    const run = await runFixture({
      policy: DENY_ALL,
      source: attackSource(body),
      env: { RT_PORT: String(server.port), RT_TARGET: targetFile },
    });
    const results = appResults(run);
    expect(server.accepted() - before, JSON.stringify(results)).toBe(0);
    expect(existsSync(targetFile), `the target was created: ${JSON.stringify(results)}`).toBe(false);
    cleanup(run);
    return results;
  } finally {
    target.remove();
  }
}

// Only the agent's own calls are lied to (its frames are in agent.cjs), so the app and the fixture's
// helpers keep working while the decision is being swayed.
const FROM_AGENT = `const fromAgent = () => (new Error().stack || '').includes('agent.cjs');`;

const NETWORK: Record<string, string> = {
  'Map.prototype.get lying about the cached host decision': `
    ${FROM_AGENT}
    const get = Map.prototype.get;
    Map.prototype.get = function (key) {
      const value = get.call(this, key);
      if (value && typeof value === 'object' && 'decision' in value)
        return { ...value, decision: { verdict: 'grant', rule: 'allowedDomains' }, ipDependent: false, runtimePorts: 'any' };
      return value;
    };
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'Map.prototype.get lying once the decision is cached': `
    await tryConnect({ host: FORBIDDEN, port: PORT });
    const get = Map.prototype.get;
    Map.prototype.get = function (key) {
      const value = get.call(this, key);
      if (value && typeof value === 'object' && 'runtimePorts' in value) return { ...value, runtimePorts: 'any' };
      return value;
    };
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'Object.prototype.host = "localhost" (a field the operation does not have)': `
    Object.prototype.host = 'localhost';
    const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
    delete Object.prototype.host;
    report(outcome);`,
  'an Object.prototype.host getter only the agent sees': `
    ${FROM_AGENT}
    Object.defineProperty(Object.prototype, 'host', {
      get() { return fromAgent() ? 'localhost' : undefined; },
      set(value) { Object.defineProperty(this, 'host', { value, writable: true, enumerable: true, configurable: true }); },
      configurable: true,
    });
    const outcome = await tryConnect({ host: FORBIDDEN, port: PORT });
    delete Object.prototype.host;
    report(outcome);`,
  'Object.prototype.ip naming an address localhost resolved to': `
    await tryConnect({ host: 'localhost', port: 9, lookup: lookupTo('127.0.0.1') });
    Object.prototype.ip = '127.0.0.1';
    const outcome = await tryConnect({ host: 'elsewhere.test', port: PORT, lookup: lookupTo(FORBIDDEN) });
    delete Object.prototype.ip;
    report(outcome);`,
  'String.prototype.toLowerCase + RegExp.prototype.exec turning 127.0.0.2 into localhost': `
    ${FROM_AGENT}
    const lower = String.prototype.toLowerCase;
    String.prototype.toLowerCase = function () {
      const text = lower.call(this);
      return text === FORBIDDEN && fromAgent() ? 'localhost' : text;
    };
    const exec = RegExp.prototype.exec;
    RegExp.prototype.exec = function (text) {
      if (text === FORBIDDEN && fromAgent() && this.source.startsWith('^(?:25[0-5]')) return null;
      return exec.call(this, text);
    };
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'String.prototype.includes/endsWith/startsWith answering yes for the agent': `
    ${FROM_AGENT}
    for (const method of ['includes', 'endsWith', 'startsWith']) {
      const original = String.prototype[method];
      String.prototype[method] = function (...args) { return fromAgent() && String(this).includes('elsewhere') ? true : original.apply(this, args); };
    }
    report(await tryConnect({ host: 'elsewhere.test', port: PORT, lookup: lookupTo(FORBIDDEN) }));`,
  'the array iterator yielding a name the address never had': `
    ${FROM_AGENT}
    await tryConnect({ host: 'localhost', port: 9, lookup: lookupTo('127.0.0.1') });
    const iteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]());
    const next = iteratorPrototype.next;
    iteratorPrototype.next = function () {
      const step = next.call(this);
      if (step.done && fromAgent() && !this.faked) { this.faked = true; return { value: { name: 'localhost', expiresAt: Infinity }, done: false }; }
      return step;
    };
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'the Map iterator inventing a learned name': `
    ${FROM_AGENT}
    await tryConnect({ host: 'localhost', port: 9, lookup: lookupTo('127.0.0.1') });
    const iteratorPrototype = Object.getPrototypeOf(new Map()[Symbol.iterator]());
    const next = iteratorPrototype.next;
    iteratorPrototype.next = function () {
      const step = next.call(this);
      if (step.done && fromAgent() && !this.faked) { this.faked = true; return { value: ['localhost', 8.64e15], done: false }; }
      return step;
    };
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'Reflect.apply and Function.prototype.call replaced to be handed the unwrapped tcp_wrap connect': `
    const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
    const reflectApply = Reflect.apply;
    const call = Function.prototype.call;
    let stolen;
    Reflect.apply = function (fn, self, args) { if (!stolen && self instanceof TCP) stolen = fn; return reflectApply(fn, self, args); };
    Function.prototype.call = function (self, ...args) { if (!stolen && self instanceof TCP) stolen = this; return reflectApply(this, self, args); };
    await tryConnect({ host: 'localhost', port: 9, lookup: lookupTo('127.0.0.1') });
    Reflect.apply = reflectApply;
    Function.prototype.call = call;
    if (!stolen) { report({ stolen: false }); return; }
    const handle = new TCP(constants.SOCKET);
    const request = new TCPConnectWrap();
    const status = await new Promise((resolve) => {
      request.oncomplete = (code) => resolve(code);
      const returned = reflectApply(stolen, handle, [request, FORBIDDEN, PORT]);
      if (returned !== 0) resolve(returned);
      setTimeout(() => resolve('pending'), 1000).unref();
    });
    report({ stolen: true, status });`,
};

const FILESYSTEM: Record<string, string> = {
  'String.prototype.startsWith/includes making the target look certainly ungoverned (the fast path)': `
    const includes = String.prototype.includes;
    const startsWith = String.prototype.startsWith;
    const fromAgentHere = () => includes.call(new Error().stack || '', 'agent.cjs');
    String.prototype.startsWith = function (...args) { return String(this) === TARGET && fromAgentHere() ? false : startsWith.apply(this, args); };
    String.prototype.includes = function (...args) { return String(this) === TARGET && fromAgentHere() ? false : includes.apply(this, args); };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'Map.prototype.get saying the target is certainly ungoverned': `
    const get = Map.prototype.get;
    Map.prototype.get = function (key) { return key === TARGET ? true : get.call(this, key); };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'Set.prototype.has saying the target was granted before': `
    const has = Set.prototype.has;
    Set.prototype.has = function (key) { return key === TARGET ? true : has.call(this, key); };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'String.prototype.startsWith placing the target under the agent directory': `
    ${FROM_AGENT}
    const startsWith = String.prototype.startsWith;
    String.prototype.startsWith = function (prefix, ...rest) {
      if (fromAgent() && String(this).startsWith.call(String(this), TARGET) === false) {}
      if (fromAgent() && String(this) === TARGET) return true;
      return startsWith.call(this, prefix, ...rest);
    };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'String.prototype.includes/endsWith/charCodeAt skewing path checks': `
    ${FROM_AGENT}
    const charCodeAt = String.prototype.charCodeAt;
    String.prototype.charCodeAt = function (index) {
      if (fromAgent() && String(this) === TARGET) return 0x41;
      return charCodeAt.call(this, index);
    };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'the array iterator turning governed directories into "/"': `
    ${FROM_AGENT}
    const iteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]());
    const next = iteratorPrototype.next;
    iteratorPrototype.next = function () {
      const step = next.call(this);
      if (!step.done && typeof step.value === 'string' && step.value.startsWith('/') && fromAgent()) return { value: '/', done: false };
      return step;
    };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'the array iterator ending at once, so no path argument is looked at': `
    ${FROM_AGENT}
    const iteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]());
    const next = iteratorPrototype.next;
    iteratorPrototype.next = function () { return fromAgent() ? { value: undefined, done: true } : next.call(this); };
    report(attempt(() => fs.writeFileSync(TARGET, 'x')));`,
  'Object.prototype.path pointing elsewhere': `
    Object.prototype.path = '/dev/null';
    const outcome = attempt(() => fs.writeFileSync(TARGET, 'x'));
    delete Object.prototype.path;
    report(outcome);`,
};

const PROCESS: Record<string, string> = {
  'Map.prototype.get answering grant for the command': `
    const get = Map.prototype.get;
    Map.prototype.get = function (key) { return key === '/bin/sh' ? Object.freeze({ verdict: 'grant', rule: 'allowedCommands' }) : get.call(this, key); };
    report(attempt(() => require('node:child_process').execFileSync('/bin/sh', ['-c', 'echo > "$0"', TARGET])));`,
  'Set.prototype.has listing the command as allowed': `
    const has = Set.prototype.has;
    Set.prototype.has = function (key) { return key === 'sh' || key === '/bin/sh' ? true : has.call(this, key); };
    report(attempt(() => require('node:child_process').execFileSync('/bin/sh', ['-c', 'echo > "$0"', TARGET])));`,
  'Object.prototype.command naming an allowed program': `
    Object.prototype.command = '/bin/true';
    const outcome = attempt(() => require('node:child_process').execFileSync('/bin/sh', ['-c', 'echo > "$0"', TARGET]));
    delete Object.prototype.command;
    report(outcome);`,
};

describe('red team: tampered intrinsics cannot sway a network decision', () => {
  for (const [name, body] of Object.entries(NETWORK)) {
    it(name, async () => {
      await expectBlocked(body);
    });
  }
});

describe('red team: tampered intrinsics cannot sway a filesystem decision', () => {
  for (const [name, body] of Object.entries(FILESYSTEM)) {
    it(name, async () => {
      const [result] = await expectBlocked(body);
      expect(result).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});

describe('red team: tampered intrinsics cannot sway a process decision', () => {
  for (const [name, body] of Object.entries(PROCESS)) {
    it(name, async () => {
      const [result] = await expectBlocked(body);
      expect(result).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});
