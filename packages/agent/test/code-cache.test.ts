// agent.cjs compiles the bundle it holds with the V8 code cache build.mjs writes next to it
// (agent.cjs.cache): the cache must match the bundle, and a cache that does not (stale, foreign,
// missing) must change nothing but the load time.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentPath, ensureAgentBuilt } from './harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
beforeAll(() => ensureAgentBuilt());

/** The bundle source and cache key that build.mjs wrote into agent.cjs. */
function loaderParts(): { source: string; key: string } {
  const text = readFileSync(agentPath, 'latin1');
  const mark = '\n/*# appdefender-bundle\n';
  const at = text.indexOf(mark);
  const key = /^ {2}const key = '([0-9a-f]+)';$/m.exec(text)?.[1];
  if (at < 0 || !key || !text.endsWith('*/'))
    throw new Error(`${agentPath} is not the loader build.mjs writes`);
  const source = text.slice(at + mark.length, text.length - 2);
  return { source, key };
}

/** Runs an app that writes a file under /tmp with agent `agentFile` preloaded under filesystem deny. */
function writeUnderDeny(agentFile: string): { status: number | null; stdout: string; target: string } {
  const dir = mkdtempSync(join(tmpdir(), 'code-cache-'));
  dirs.push(dir);
  const target = join(dir, 'written.txt');
  const policyFile = join(dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({ name: 'code-cache', filesystem: 'deny', network: 'grant', process: 'grant' }),
  );
  const app = `try { require('node:fs').writeFileSync(${JSON.stringify(target)}, 'x'); console.log('WROTE'); } catch (error) { console.log('CODE ' + error.code); }`;
  const result = spawnSync(process.execPath, ['--require', agentFile, '-e', app], {
    env: { PATH: process.env.PATH, ES_POLICY_FILE: policyFile },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: result.status, stdout: result.stdout, target };
}

/** A copy of agent.cjs in a fresh directory, with `cacheFor(its path)` (or none) as its agent.cjs.cache. */
function agentCopyWith(cacheFor: (file: string) => Buffer | undefined): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'code-cache-agent-')));
  dirs.push(dir);
  const file = join(dir, 'agent.cjs');
  copyFileSync(agentPath, file);
  const cache = cacheFor(file);
  if (cache) writeFileSync(`${file}.cache`, cache);
  return file;
}

describe('agent code cache', () => {
  it('is built next to agent.cjs, keyed by its bundle and path, and accepted by V8', () => {
    const { source, key } = loaderParts();
    const cache = readFileSync(`${agentPath}.cache`);
    const header = `${key}${realpathSync(agentPath)}\0`;
    expect(cache.toString('utf8', 0, Buffer.byteLength(header))).toBe(header);
    const script = new Script(source, {
      filename: agentPath,
      cachedData: cache.subarray(Buffer.byteLength(header)),
    });
    expect(script.cachedDataRejected).toBe(false);
  });

  it('is not used by a copy of agent.cjs elsewhere: V8 would name the agent frames after the build path', async () => {
    // the agent tells its own frames (e.g. the lookup completion that vouches for an address) by
    // its file name; with the build path in its stack an allowed connect was reported as unresolved
    const copy = agentCopyWith(() => readFileSync(`${agentPath}.cache`));
    const dir = mkdtempSync(join(tmpdir(), 'code-cache-net-'));
    dirs.push(dir);
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({ name: 'code-cache', network: 'observe', allowedDomains: ['localhost'] }),
    );
    const app = `const net = require('node:net');
const server = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, 'localhost', () => { socket.destroy(); server.close(); console.log('CONNECTED ' + new Error().stack.length); });
});`;
    for (const agentFile of [agentPath, copy]) {
      const result = spawnSync(process.execPath, ['--require', agentFile, '-e', app], {
        env: { PATH: process.env.PATH, ES_POLICY_FILE: policyFile },
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect({ agentFile, stdout: result.stdout.replace(/CONNECTED \d+/, 'CONNECTED') }).toEqual({
        agentFile,
        stdout: 'CONNECTED\n',
      });
    }
  });

  it('enforces the same with the cache, without it, with a stale one and with a foreign one', () => {
    const { key } = loaderParts();
    const real = readFileSync(`${agentPath}.cache`);
    const shippedHeader = Buffer.byteLength(`${key}${realpathSync(agentPath)}\0`);
    const withHeader = (keyText: string, file: string, data: Buffer) =>
      Buffer.concat([Buffer.from(`${keyText}${file}\0`), data]);
    // the right key and path over another script's cache: V8 refuses it (the source differs)
    const foreign = new Script('(function () { return 1; })').createCachedData();
    const variants = {
      shipped: agentPath,
      missing: agentCopyWith(() => undefined),
      stale: agentCopyWith((file) => withHeader('0'.repeat(key.length), file, real.subarray(shippedHeader))),
      foreign: agentCopyWith((file) => withHeader(key, file, foreign)),
    };
    for (const [name, file] of Object.entries(variants)) {
      const run = writeUnderDeny(file);
      expect({ name, status: run.status, out: run.stdout.includes('CODE ERR_ACCESS_DENIED') }).toEqual({
        name,
        status: 0,
        out: true,
      });
      expect(existsSync(run.target)).toBe(false);
    }
  });
});
