import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { findAgent } from '../src/local/paths.js';
import { assertBinaryBuilt, cleanEnv, runBinary } from './helpers/binary.js';
import { startControlPlane } from './helpers/control-plane.js';

let dir: string;
let closedPort: number;

beforeAll(async () => {
  assertBinaryBuilt();
  const agent = findAgent({});
  if (!agent.path)
    throw new Error(`run needs the agent bundle (${agent.searched.join(', ')}): run \`npm run build\``);
  dir = await mkdtemp(join(tmpdir(), 'cli-run-'));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  // The program: reads a file of its own, connects to loopback, prints what happened, exits 7.
  await writeFile(join(dir, 'data.txt'), 'hello');
  await writeFile(
    join(dir, 'app.cjs'),
    `const fs = require('node:fs');
const net = require('node:net');
console.log('read', fs.readFileSync(__dirname + '/data.txt', 'utf8'));
const socket = net.connect(${closedPort}, '127.0.0.1');
socket.on('error', (error) => {
  console.log('connect failed', error.code);
  process.exitCode = 7;
});
`,
  );
  await writeFile(
    join(dir, 'deny-network.yaml'),
    'name: no-network\nnetwork: deny\nfilesystem: observe\nprocess: grant\n',
  );
  await writeFile(join(dir, 'bad.yaml'), 'name: bad\nnetwork: maybe\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (...args: string[]) => runBinary(['run', ...args], { env: cleanEnv(dir), cwd: dir });

describe('run', () => {
  it('enforces a policy file, prints events readably and exits with the program code', async () => {
    const result = await run('--policy', 'deny-network.yaml', '--', process.execPath, 'app.cjs');
    expect(result.code).toBe(7);
    // The program's own output is untouched; the event JSON lines are taken out of it.
    expect(result.stdout).toBe('read hello\nconnect failed ERR_ACCESS_DENIED\n');
    expect(result.stderr).toMatch(/OBSERVE\s+filesystem\s+read\s+\S*data\.txt/);
    expect(result.stderr).toMatch(new RegExp(`DENY\\s+network\\s+connect\\s+127\\.0\\.0\\.1:${closedPort}`));
    expect(result.stderr).toMatch(/1 denied, \d+ observed; exit code 7/);
  });

  it('observes everything by default and writes --events as JSON lines', async () => {
    const result = await run('--events', 'events.ndjson', '--json', '--', process.execPath, 'app.cjs');
    expect(result.code).toBe(7);
    expect(result.stdout).toBe('read hello\nconnect failed ECONNREFUSED\n');
    const printed = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(printed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          category: 'network',
          action: 'observe',
          policyGroup: 'observeAll.ability',
        }),
      ]),
    );
    const written = (await readFile(join(dir, 'events.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(written.map((e) => e.id).sort()).toEqual(printed.map((e) => e.id).sort());
  });

  it("refuses a bad policy file with the validator's messages and does not start the program", async () => {
    const result = await run('--policy', 'bad.yaml', '--', process.execPath, 'app.cjs');
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/bad\.yaml is not a valid policy group/);
    expect(result.stderr).toMatch(/network: /);
    expect(result.stdout).toBe('');
  });

  it('exits 3 for a program that does not exist', async () => {
    const result = await run('--', 'no-such-program-xyz');
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/Cannot run "no-such-program-xyz"/);
  });

  it('fetches --group from the control plane', async () => {
    const controlPlane = await startControlPlane();
    try {
      const created = await fetch(`${controlPlane.url}/api/v1/policy-groups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${controlPlane.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'remote-deny', network: 'deny', filesystem: 'grant', process: 'grant' }),
      });
      expect(created.status).toBe(201);
      const result = await runBinary(['run', '--group', 'remote-deny', '--', process.execPath, 'app.cjs'], {
        env: cleanEnv(dir, { ES_API_URL: controlPlane.url, ES_API_TOKEN: controlPlane.apiToken }),
        cwd: dir,
      });
      expect(result.code).toBe(7);
      expect(result.stdout).toBe('read hello\nconnect failed ERR_ACCESS_DENIED\n');
      expect(result.stderr).toMatch(/under "remote-deny"/);
      expect(result.stderr).toMatch(/1 denied, 0 observed/);
    } finally {
      await controlPlane.close();
    }
  });

  it('needs a control plane for --group other than the public one', async () => {
    const result = await run('--group', 'payments', '--', process.execPath, 'app.cjs');
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/No control plane URL/);
  });
});
