import {
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, cleanEnv, runBinary } from './helpers/binary.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { runInProcess } from './helpers/in-process.js';

const lambda = mockClient(LambdaClient);
let controlPlane: TestControlPlane;
const awsEnv = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
const layer = 'arn:aws:lambda:us-east-1:123456789012:layer:Extrinsec-Appdefender:4';

interface Check {
  name: string;
  status: string;
  message: string;
  fix?: string;
}

beforeAll(async () => {
  controlPlane = await startControlPlane();
  const response = await fetch(`${controlPlane.url}/api/v1/policy-groups`, {
    method: 'POST',
    headers: { authorization: `Bearer ${controlPlane.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'payments', network: 'deny' }),
  });
  expect(response.status).toBe(201);
});
afterAll(() => controlPlane?.close());
beforeEach(() => lambda.reset());

const healthy = (): FunctionConfiguration => ({
  FunctionName: 'checkout',
  Runtime: 'nodejs20.x',
  PackageType: 'Zip',
  Architectures: ['x86_64'],
  LastUpdateStatus: 'Successful',
  Layers: [{ Arn: layer }],
  Environment: {
    Variables: {
      AWS_LAMBDA_EXEC_WRAPPER: '/opt/appdefender_wrapper',
      ES_LICENSE_KEY: controlPlane.licenseKey,
      ES_POLICY_GROUP_NAME: 'payments',
      ES_API_URL: controlPlane.url,
    },
  },
});

async function doctor(fn: FunctionConfiguration, layerArchitectures = ['x86_64']) {
  lambda.on(GetFunctionConfigurationCommand).resolves(fn);
  lambda
    .on(GetLayerVersionByArnCommand)
    .resolves({ CompatibleArchitectures: layerArchitectures as ('x86_64' | 'arm64')[] });
  const result = await runInProcess(['doctor', '--function', 'checkout', '--json'], {
    env: { ...awsEnv, ES_API_TOKEN: controlPlane.apiToken },
  });
  const report = JSON.parse(result.stdout) as { ok: boolean; checks: Check[] };
  return { ...result, report, failed: report.checks.filter((c) => c.status === 'fail') };
}

describe('doctor --function', () => {
  it('passes a correctly enabled function, including its policy group on the server', async () => {
    const { code, report } = await doctor(healthy());
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(code).toBe(ExitCode.ok);
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'runtime',
        'layer',
        'AWS_LAMBDA_EXEC_WRAPPER',
        'ES_LICENSE_KEY',
        'policy group',
      ]),
    );
  });

  it('names each problem and its fix', async () => {
    const fn = healthy();
    fn.Layers = [];
    fn.Environment = {
      Variables: {
        ES_LICENSE_KEY: 'adt_not_a_license_key',
        ES_POLICY_GROUP_NAME: 'nope',
        ES_API_URL: controlPlane.url,
      },
    };
    const { code, failed } = await doctor(fn);
    expect(code).toBe(ExitCode.failure);
    expect(failed.map((c) => c.name)).toEqual(
      expect.arrayContaining(['layer', 'AWS_LAMBDA_EXEC_WRAPPER', 'ES_LICENSE_KEY', 'policy group']),
    );
    expect(failed.find((c) => c.name === 'AWS_LAMBDA_EXEC_WRAPPER')?.fix).toMatch(
      /AWS_LAMBDA_EXEC_WRAPPER=\/opt\/appdefender_wrapper/,
    );
    expect(failed.find((c) => c.name === 'policy group')?.message).toMatch(/"nope" does not exist/);
    expect(failed.find((c) => c.name === 'ES_LICENSE_KEY')?.fix).toMatch(
      /api token \(adt_…\) is not a license key/,
    );
  });

  it('catches a layer of the wrong architecture', async () => {
    const fn = healthy();
    fn.Architectures = ['arm64'];
    const { failed } = await doctor(fn, ['x86_64']);
    expect(failed).toEqual([
      expect.objectContaining({
        name: 'layer',
        message: expect.stringMatching(/built for x86_64 but the function runs on arm64/),
      }),
    ]);
  });

  it('explains a wrapper that replaced ours', async () => {
    const fn = healthy();
    fn.Environment!.Variables!['AWS_LAMBDA_EXEC_WRAPPER'] = '/opt/otel-instrument';
    const { failed } = await doctor(fn);
    expect(failed).toEqual([
      expect.objectContaining({
        name: 'AWS_LAMBDA_EXEC_WRAPPER',
        fix: expect.stringMatching(/ES_CHAINED_WRAPPER=\/opt\/otel-instrument/),
      }),
    ]);
  });

  it('reports an unreachable control plane', async () => {
    const fn = healthy();
    fn.Environment!.Variables!['ES_API_URL'] = 'http://127.0.0.1:9';
    const { failed } = await doctor(fn);
    expect(failed).toEqual([
      expect.objectContaining({
        name: 'control plane',
        message: expect.stringMatching(/Cannot reach the control plane/),
      }),
    ]);
  });
});

describe('doctor (local setup, binary)', () => {
  beforeAll(() => assertBinaryBuilt());

  it('is happy with a reachable server, a valid token and an existing group', async () => {
    const result = await runBinary(['doctor'], {
      env: cleanEnv('/nonexistent', {
        ES_API_URL: controlPlane.url,
        ES_API_TOKEN: controlPlane.apiToken,
        ES_LICENSE_KEY: controlPlane.licenseKey,
        ES_POLICY_GROUP_NAME: 'payments',
      }),
    });
    expect(result.stdout).toMatch(/✔ control plane: .* is reachable/);
    expect(result.stdout).toMatch(/✔ policy group: "payments" exists on the server/);
    expect(result.stdout).not.toMatch(/✖/);
    expect(result.code).toBe(ExitCode.ok);
  });

  it('says the server is unreachable and exits 1', async () => {
    const result = await runBinary(['doctor'], {
      env: cleanEnv('/nonexistent', { ES_API_URL: 'http://127.0.0.1:9' }),
    });
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stdout).toMatch(
      /✖ control plane: Cannot reach the control plane at http:\/\/127\.0\.0\.1:9/,
    );
    expect(result.stdout).toMatch(/fix: Start it \(`appdefender server`\)/);
  });
});
