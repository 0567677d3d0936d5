import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, cleanEnv, runBinary } from './helpers/binary.js';

let home: string;
beforeAll(async () => {
  assertBinaryBuilt();
  home = await mkdtemp(join(tmpdir(), 'cli-bin-home-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('help and usage', () => {
  const commands = [
    [],
    ['server'],
    ['run'],
    ['policy'],
    ['policy', 'validate'],
    ['policy', 'push'],
    ['policy', 'pull'],
    ['policy', 'list'],
    ['policy', 'diff'],
    ['lambda'],
    ['lambda', 'enable'],
    ['lambda', 'disable'],
    ['lambda', 'list'],
    ['layer'],
    ['layer', 'build'],
    ['layer', 'publish'],
    ['events'],
    ['events', 'tail'],
    ['doctor'],
    ['demo'],
  ];
  it.each(commands)('%s --help shows examples', async (...path) => {
    const result = await runBinary([...path, '--help'], { env: cleanEnv(home) });
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout).toContain('Usage: appdefender');
    expect(result.stdout).toMatch(/Examples:\n\s+\$ \S/);
  });

  it('exits 2 on an unknown command or a missing argument', async () => {
    const unknown = await runBinary(['frobnicate'], { env: cleanEnv(home) });
    expect(unknown.code).toBe(ExitCode.usage);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const missing = await runBinary(['lambda', 'enable'], { env: cleanEnv(home) });
    expect(missing.code).toBe(ExitCode.usage);
    expect(missing.stderr).toMatch(/required option '--function <name\|arn>'/);
  });

  it('exits 2 with the usage on stderr when no command is given', async () => {
    for (const args of [[], ['policy'], ['lambda']]) {
      const result = await runBinary(args, { env: cleanEnv(home) });
      expect(result.code).toBe(ExitCode.usage);
      expect(result.stderr).toContain('Usage: appdefender');
      expect(result.stdout).toBe('');
    }
  });

  it('prints its version', async () => {
    const result = await runBinary(['--version'], { env: cleanEnv(home) });
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('policy validate (binary)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-bin-policy-'));
    await writeFile(
      join(dir, 'good.yaml'),
      'name: payments-strict\nnetwork: deny\nfilesystem: observe\nprocess: deny\nallowedDomains:\n  - stripe\n  - "*.example.com"\n',
    );
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({ name: 'x', network: 'block', allowedDomains: 42 }),
    );
    await writeFile(join(dir, 'broken.yaml'), 'name: [unclosed\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('accepts a valid file', async () => {
    const result = await runBinary(['policy', 'validate', join(dir, 'good.yaml')], { env: cleanEnv(home) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout).toMatch(/good\.yaml: valid \(payments-strict\)/);
  });

  it("refuses an invalid file with the validator's messages, per field", async () => {
    const result = await runBinary(['policy', 'validate', join(dir, 'bad.json'), '--json'], {
      env: cleanEnv(home),
    });
    expect(result.code).toBe(ExitCode.failure);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(false);
    const fields = report.files[0].errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['network', 'allowedDomains']));
    const human = await runBinary(['policy', 'validate', join(dir, 'bad.json')], { env: cleanEnv(home) });
    expect(human.stdout).toMatch(/network: .+/);
    expect(human.stdout).toMatch(/allowedDomains: .+/);
  });

  it('names the line of a YAML syntax error', async () => {
    const result = await runBinary(['policy', 'validate', join(dir, 'broken.yaml')], { env: cleanEnv(home) });
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stdout).toMatch(/not valid YAML/);
    expect(result.stdout).toMatch(/line \d+: /);
  });

  it('exits 3 for a missing file', async () => {
    const result = await runBinary(['policy', 'validate', join(dir, 'nope.yaml')], { env: cleanEnv(home) });
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/No such policy file/);
  });
});

describe('AWS commands (binary)', () => {
  let fakeLambda: Server;
  let endpoint: string;
  const requests: string[] = [];
  beforeAll(async () => {
    // A fake Lambda API on loopback (the SDK honours AWS_ENDPOINT_URL_LAMBDA): real HTTP, no AWS.
    fakeLambda = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const send = (status: number, body: unknown, errorType?: string) => {
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
        });
        res.end(JSON.stringify(body));
      };
      if (req.url?.startsWith('/2015-03-31/functions/nope/configuration')) {
        send(404, { Type: 'User', Message: 'Function not found: nope' }, 'ResourceNotFoundException');
      } else if (req.url?.startsWith('/2015-03-31/functions')) {
        send(200, {
          Functions: [
            { FunctionName: 'hello', Runtime: 'nodejs20.x', PackageType: 'Zip', Architectures: ['x86_64'] },
          ],
        });
      } else send(400, { Message: `unexpected ${req.url}` }, 'InvalidRequestContentException');
    });
    await new Promise<void>((resolve) => fakeLambda.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(fakeLambda.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => fakeLambda.close(resolve)));

  const awsEnv = () =>
    cleanEnv(home, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
      ES_LICENSE_KEY: 'adk_live_abcdefgh12345678',
    });

  it('lambda list shows the functions', async () => {
    const result = await runBinary(['lambda', 'list', '--json'], { env: awsEnv() });
    expect(result.code).toBe(ExitCode.ok);
    expect(JSON.parse(result.stdout).functions).toEqual([
      expect.objectContaining({ functionName: 'hello', enabled: false, supported: true }),
    ]);
  });

  it('exits 3 for an unknown function', async () => {
    const result = await runBinary(['lambda', 'enable', '--function', 'nope'], { env: awsEnv() });
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/Function nope: not found/);
  });

  it('exits 4 without AWS credentials, saying how to provide them', async () => {
    const env = awsEnv();
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const before = requests.length;
    const result = await runBinary(['lambda', 'list'], { env });
    expect(result.code).toBe(ExitCode.auth);
    expect(result.stderr).toMatch(/no AWS credentials found/);
    expect(result.stderr).toMatch(/hint: .*AWS_PROFILE/);
    expect(requests.length).toBe(before);
  });

  it('exits 2 without a region', async () => {
    const env = awsEnv();
    delete env['AWS_REGION'];
    const result = await runBinary(['lambda', 'list'], { env });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/no AWS region/);
  });
});

describe('control plane commands (binary)', () => {
  it('exits 5 when the server is unreachable', async () => {
    const port = await closedPort();
    const result = await runBinary(['policy', 'list'], {
      env: cleanEnv(home, { ES_API_URL: `http://127.0.0.1:${port}`, ES_API_TOKEN: 'adt_test' }),
    });
    expect(result.code).toBe(ExitCode.unreachable);
    expect(result.stderr).toMatch(
      /Cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('exits 2 without an api token, naming where to put one', async () => {
    const result = await runBinary(['policy', 'list'], {
      env: cleanEnv(home, { ES_API_URL: 'http://127.0.0.1:1' }),
    });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/No api token/);
    expect(result.stderr).toMatch(/ES_API_TOKEN/);
  });

  it('reports errors as JSON with --json', async () => {
    const result = await runBinary(['policy', 'list', '--json'], { env: cleanEnv(home) });
    expect(result.code).toBe(ExitCode.usage);
    expect(JSON.parse(result.stderr)).toEqual({
      error: expect.objectContaining({ code: 'USAGE', message: 'No control plane URL' }),
    });
  });
});
