import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AddLayerVersionPermissionCommand,
  LambdaClient,
  PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, cleanEnv, runBinary } from './helpers/binary.js';
import { runInProcess } from './helpers/in-process.js';

const lambda = mockClient(LambdaClient);
const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
let zipDir: string;

beforeAll(async () => {
  zipDir = await mkdtemp(join(tmpdir(), 'cli-layer-'));
  await writeFile(join(zipDir, 'appdefender-layer-x86_64.zip'), 'x86 zip bytes');
  await writeFile(join(zipDir, 'appdefender-layer-arm64.zip'), 'arm zip bytes');
});
afterAll(() => rm(zipDir, { recursive: true, force: true }));
beforeEach(() => {
  lambda.reset();
  let version = 0;
  lambda.on(PublishLayerVersionCommand).callsFake(async (input: { LayerName: string }) => {
    version += 1;
    return {
      LayerVersionArn: `arn:aws:lambda:REGION:123456789012:layer:${input.LayerName}:${version}`,
      Version: version,
    };
  });
  lambda.on(AddLayerVersionPermissionCommand).resolves({});
});

describe('layer publish', () => {
  it('publishes both architectures to every region and prints the ARNs', async () => {
    // Act
    const result = await runInProcess(
      ['layer', 'publish', '--regions', 'us-east-1, eu-west-1', '--zip-dir', zipDir, '--json'],
      { env },
    );
    // Assess
    expect(result.code).toBe(ExitCode.ok);
    const publishes = lambda.commandCalls(PublishLayerVersionCommand).map((call) => call.args[0].input);
    expect(publishes.map((p) => [p.LayerName, p.CompatibleArchitectures])).toEqual([
      ['Extrinsec-Appdefender', ['x86_64']],
      ['Extrinsec-Appdefender-arm64', ['arm64']],
      ['Extrinsec-Appdefender', ['x86_64']],
      ['Extrinsec-Appdefender-arm64', ['arm64']],
    ]);
    expect(Buffer.from(publishes[0]!.Content!.ZipFile!).toString()).toBe('x86 zip bytes');
    expect(Buffer.from(publishes[1]!.Content!.ZipFile!).toString()).toBe('arm zip bytes');
    expect(publishes[0]!.CompatibleRuntimes).toContain('nodejs20.x');
    expect(lambda.commandCalls(AddLayerVersionPermissionCommand)).toHaveLength(0);
    const { layers } = JSON.parse(result.stdout);
    expect(
      layers.map((l: { region: string; architecture: string }) => `${l.region}/${l.architecture}`),
    ).toEqual(['us-east-1/x86_64', 'us-east-1/arm64', 'eu-west-1/x86_64', 'eu-west-1/arm64']);
    // Each region used a client of its own region.
    const regions = await Promise.all(
      lambda
        .commandCalls(PublishLayerVersionCommand)
        .map((call) => (call.thisValue as LambdaClient).config.region()),
    );
    expect(regions).toEqual(['us-east-1', 'us-east-1', 'eu-west-1', 'eu-west-1']);
  });

  it('--public grants lambda:GetLayerVersion to everyone on each version', async () => {
    const result = await runInProcess(
      ['layer', 'publish', '--regions', 'us-east-1', '--zip-dir', zipDir, '--public'],
      { env },
    );
    expect(result.code).toBe(ExitCode.ok);
    const grants = lambda.commandCalls(AddLayerVersionPermissionCommand).map((call) => call.args[0].input);
    expect(grants).toEqual([
      expect.objectContaining({
        LayerName: 'Extrinsec-Appdefender',
        VersionNumber: 1,
        Principal: '*',
        Action: 'lambda:GetLayerVersion',
      }),
      expect.objectContaining({ LayerName: 'Extrinsec-Appdefender-arm64', VersionNumber: 2, Principal: '*' }),
    ]);
    expect(result.stdout).toMatch(
      /us-east-1\s+x86_64\s+arn:aws:lambda:REGION:123456789012:layer:Extrinsec-Appdefender:1\s+\(public\)/,
    );
    expect(result.stderr).toMatch(/us-east-1: arm64 published/);
  });

  it('refuses a region list it does not understand', async () => {
    const result = await runInProcess(
      ['layer', 'publish', '--regions', 'us-east-1,mars', '--zip-dir', zipDir],
      { env },
    );
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/not understood: mars/);
    expect(lambda.commandCalls(PublishLayerVersionCommand)).toHaveLength(0);
  });

  it('says to build first when a zip is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cli-layer-empty-'));
    const result = await runInProcess(['layer', 'publish', '--regions', 'us-east-1', '--zip-dir', empty], {
      env,
    });
    await rm(empty, { recursive: true, force: true });
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/No x86_64 layer zip .*\n.*appdefender layer build/);
  });

  it('exits 4 when AWS refuses the credentials', async () => {
    lambda.on(PublishLayerVersionCommand).rejects(
      Object.assign(new Error('The security token included in the request is invalid'), {
        name: 'UnrecognizedClientException',
      }),
    );
    const result = await runInProcess(['layer', 'publish', '--regions', 'us-east-1', '--zip-dir', zipDir], {
      env,
    });
    expect(result.code).toBe(ExitCode.auth);
    expect(result.stderr).toMatch(/refused the credentials/);
  });
});

describe('layer build, then publish what it built', () => {
  it('builds the tree and both zips into --out, and publishes those bytes', async () => {
    // Prepare
    assertBinaryBuilt();
    const out = await mkdtemp(join(tmpdir(), 'cli-layer-build-'));
    try {
      // Act
      const build = await runBinary(['layer', 'build', '--out', out, '--json'], { env: cleanEnv(out) });
      // Assess
      expect(build.stderr).not.toMatch(/error/);
      expect(build.code).toBe(ExitCode.ok);
      const built = JSON.parse(build.stdout) as {
        layerDir: string;
        zips: { architecture: string; path: string }[];
      };
      expect(built.zips.map((z) => z.architecture)).toEqual(['x86_64', 'arm64']);
      expect((await stat(join(out, 'layer', 'appdefender_wrapper'))).mode & 0o111).not.toBe(0);
      expect((await stat(join(out, 'layer', 'appdefender', 'agent.cjs'))).isFile()).toBe(true);

      const publish = await runInProcess(
        ['layer', 'publish', '--regions', 'eu-central-1', '--zip-dir', out],
        { env },
      );
      expect(publish.code).toBe(ExitCode.ok);
      const sent = lambda
        .commandCalls(PublishLayerVersionCommand)
        .map((call) => call.args[0].input.Content?.ZipFile);
      expect(Buffer.from(sent[0]!).equals(await readFile(join(out, 'appdefender-layer-x86_64.zip')))).toBe(
        true,
      );
      expect(Buffer.from(sent[1]!).equals(await readFile(join(out, 'appdefender-layer-arm64.zip')))).toBe(
        true,
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
