import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, cleanEnv, runBinary } from './helpers/binary.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';

let controlPlane: TestControlPlane;
let dir: string;
const env = () => cleanEnv(dir, { ES_API_URL: controlPlane.url, ES_API_TOKEN: controlPlane.apiToken });
const cli = (...args: string[]) => runBinary(args, { env: env(), cwd: dir });

beforeAll(async () => {
  assertBinaryBuilt();
  controlPlane = await startControlPlane();
  dir = await mkdtemp(join(tmpdir(), 'cli-policy-api-'));
  await writeFile(
    join(dir, 'payments.yaml'),
    'name: payments-strict\ndescription: card processing\nnetwork: deny\nfilesystem: observe\nprocess: deny\nallowedDomains: "stripe, *.example.com"\n',
  );
});
afterAll(async () => {
  await controlPlane?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('policy push / list / pull / diff against the control plane', () => {
  it('diff says a new group is not on the server yet', async () => {
    const result = await cli('policy', 'diff', 'payments.yaml', '--exit-code');
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stdout).toMatch(/\+ payments-strict: not on the server/);
  });

  it('push creates the group, then reports it unchanged', async () => {
    const first = await cli('policy', 'push', 'payments.yaml');
    expect(first.stderr).not.toMatch(/error/);
    expect(first.stderr).toMatch(/warning: allowedDomains\[0\]/);
    expect(first.code).toBe(ExitCode.ok);
    expect(first.stdout).toMatch(/payments-strict: created \(version 1\)/);
    const second = await cli('policy', 'push', 'payments.yaml', '--json');
    expect(JSON.parse(second.stdout).results).toEqual([
      expect.objectContaining({ name: 'payments-strict', result: 'unchanged' }),
    ]);
  });

  it('list shows it beside the public group', async () => {
    const result = await cli('policy', 'list', '--json');
    expect(result.code).toBe(ExitCode.ok);
    const names = JSON.parse(result.stdout).policyGroups.map((g: { name: string }) => g.name);
    expect(names).toEqual(expect.arrayContaining(['observeAll.ability', 'payments-strict']));
    const table = await cli('policy', 'list');
    expect(table.stdout).toMatch(/payments-strict\s+deny\s+observe\s+deny\s+no\s+1/);
  });

  it('pull writes YAML with only policy fields', async () => {
    const result = await cli('policy', 'pull', 'payments-strict');
    expect(result.code).toBe(ExitCode.ok);
    expect(parse(result.stdout)).toEqual({
      name: 'payments-strict',
      description: 'card processing',
      network: 'deny',
      filesystem: 'observe',
      process: 'deny',
      terminateOnDeny: false,
      allowCloudProviderTraffic: false,
      allowedDomains: ['stripe', '*.example.com'],
      allowedPaths: [],
      allowedCommands: [],
    });
    const toFile = await cli('policy', 'pull', 'payments-strict', '--out', 'pulled.json');
    expect(toFile.code).toBe(ExitCode.ok);
    expect(JSON.parse(await readFile(join(dir, 'pulled.json'), 'utf8')).name).toBe('payments-strict');
  });

  it('diff shows a changed field and push updates it', async () => {
    await writeFile(
      join(dir, 'changed.yaml'),
      'name: payments-strict\ndescription: card processing\nnetwork: deny\nfilesystem: deny\nprocess: deny\nallowedDomains: [stripe, "*.example.com"]\n',
    );
    const diff = await cli('policy', 'diff', 'changed.yaml', '--json');
    expect(diff.code).toBe(ExitCode.ok);
    expect(JSON.parse(diff.stdout).groups[0]).toEqual({
      name: 'payments-strict',
      status: 'different',
      differences: [{ field: 'filesystem', server: 'observe', local: 'deny' }],
    });
    const push = await cli('policy', 'push', 'changed.yaml');
    expect(push.stdout).toMatch(/payments-strict: updated \(version 2\)/);
    const after = await cli('policy', 'diff', 'changed.yaml', '--exit-code');
    expect(after.code).toBe(ExitCode.ok);
    expect(after.stdout).toMatch(/payments-strict: same as the server/);
  });

  it("push refuses an invalid file with the validator's messages and sends nothing", async () => {
    await writeFile(join(dir, 'bad.yaml'), 'name: broken\nnetwork: sometimes\n');
    const result = await cli('policy', 'push', 'bad.yaml');
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/bad\.yaml is not a valid policy group/);
    expect(result.stderr).toMatch(/network: .+/);
    const list = await cli('policy', 'list', '--json');
    expect(JSON.parse(list.stdout).policyGroups.map((g: { name: string }) => g.name)).not.toContain('broken');
  });

  it('pull exits 3 for an unknown group', async () => {
    const result = await cli('policy', 'pull', 'no-such-group');
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/"no-such-group" does not exist/);
  });

  it('exits 4 with a wrong api token', async () => {
    const result = await runBinary(['policy', 'list'], {
      env: cleanEnv(dir, { ES_API_URL: controlPlane.url, ES_API_TOKEN: 'adt_wrong' }),
    });
    expect(result.code).toBe(ExitCode.auth);
    expect(result.stderr).toMatch(/refused the request \(401\)/);
  });

  it('reads the URL and token from the config file when nothing else sets them', async () => {
    const configPath = join(dir, 'config.json');
    await writeFile(
      configPath,
      JSON.stringify({ apiUrl: controlPlane.url, apiToken: controlPlane.apiToken }),
    );
    const result = await runBinary(['policy', 'list', '--json'], {
      env: cleanEnv(dir, { APPDEFENDER_CONFIG: configPath }),
    });
    expect(result.code).toBe(ExitCode.ok);
    // A flag beats the file: a wrong token on the command line is used (and refused).
    const flagged = await runBinary(['policy', 'list', '--api-token', 'adt_flag'], {
      env: cleanEnv(dir, { APPDEFENDER_CONFIG: configPath }),
    });
    expect(flagged.code).toBe(ExitCode.auth);
  });
});
