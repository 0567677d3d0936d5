import {
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListLayerVersionsCommand,
  PreconditionFailedException,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { runInProcess } from './helpers/in-process.js';

const lambda = mockClient(LambdaClient);
const env = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  ES_LICENSE_KEY: 'adk_live_abcdefgh12345678',
};
const layerArn = (name: string, version: number) =>
  `arn:aws:lambda:us-east-1:123456789012:layer:${name}:${version}`;

const config = (overrides: Partial<FunctionConfiguration> = {}): FunctionConfiguration => ({
  FunctionName: 'checkout',
  Runtime: 'nodejs22.x',
  PackageType: 'Zip',
  Architectures: ['arm64'],
  RevisionId: 'rev-1',
  State: 'Active',
  LastUpdateStatus: 'Successful',
  Layers: [{ Arn: layerArn('otel', 3) }],
  Environment: { Variables: { TABLE: 'orders', AWS_LAMBDA_EXEC_WRAPPER: '/opt/otel-instrument' } },
  ...overrides,
});

beforeEach(() => lambda.reset());
afterEach(() => lambda.reset());

describe('lambda enable', () => {
  it('attaches the newest layer for the architecture, chains the wrapper and waits for the update', async () => {
    // Prepare
    const updated = config({ RevisionId: 'rev-2', LastUpdateStatus: 'InProgress' });
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce(config())
      .resolvesOnce(config())
      .resolvesOnce(updated)
      .resolves({ ...updated, LastUpdateStatus: 'Successful' });
    lambda
      .on(ListLayerVersionsCommand, {
        LayerName: 'Extrinsec-Appdefender-arm64',
        CompatibleArchitecture: 'arm64',
      })
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    // Act
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout', '--group', 'strict'], {
      env,
    });
    // Assess
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(ExitCode.ok);
    const updates = lambda.commandCalls(UpdateFunctionConfigurationCommand);
    expect(updates).toHaveLength(1);
    const input = updates[0]!.args[0].input;
    expect(input.RevisionId).toBe('rev-1');
    expect(input.Layers).toEqual([layerArn('otel', 3), layerArn('appdefender-arm64', 9)]);
    expect(input.Environment?.Variables).toMatchObject({
      TABLE: 'orders',
      AWS_LAMBDA_EXEC_WRAPPER: '/opt/appdefender_wrapper',
      ES_CHAINED_WRAPPER: '/opt/otel-instrument',
      ES_POLICY_GROUP_NAME: 'strict',
      ES_LICENSE_KEY: 'adk_live_abcdefgh12345678',
    });
    // It polled until the update was done.
    expect(lambda.commandCalls(GetFunctionConfigurationCommand).length).toBeGreaterThanOrEqual(4);
    expect(result.stdout).toContain('Updated checkout (us-east-1)');
    expect(result.stdout).toContain(`+ ${layerArn('appdefender-arm64', 9)}`);
    // The license key is never printed in full.
    expect(result.stdout).not.toContain('adk_live_abcdefgh12345678');
  });

  it.each([
    [
      'the revision changed meanwhile',
      () =>
        new PreconditionFailedException({ message: 'The RevisionId provided does not match', $metadata: {} }),
    ],
    [
      'another update is in progress',
      () => new ResourceConflictException({ message: 'An update is in progress', $metadata: {} }),
    ],
  ])('re-reads and retries when %s', async (_why, conflict) => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce(config())
      .resolvesOnce(config())
      .resolves(config({ RevisionId: 'rev-2' }));
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda.on(UpdateFunctionConfigurationCommand).rejectsOnce(conflict()).resolves({});
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.ok);
    const updates = lambda
      .commandCalls(UpdateFunctionConfigurationCommand)
      .map((call) => call.args[0].input.RevisionId);
    // The retry carries the revision it read again, not the stale one.
    expect(updates).toEqual(['rev-1', 'rev-2']);
  });

  it('gives up after repeated conflicts with the reason', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda
      .on(UpdateFunctionConfigurationCommand)
      .rejects(new ResourceConflictException({ message: 'An update is in progress', $metadata: {} }));
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/Updating checkout: ResourceConflictException: An update is in progress/);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(5);
  });

  it('--dry-run prints the change and updates nothing', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout', '--dry-run', '--json'], {
      env,
    });
    expect(result.code).toBe(ExitCode.ok);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ functionName: 'checkout', dryRun: true, changed: true, applied: false });
    expect(report.changes.layers.added).toEqual([layerArn('appdefender-arm64', 9)]);
    expect(report.changes.environment.changed.AWS_LAMBDA_EXEC_WRAPPER).toEqual({
      from: '/opt/otel-instrument',
      to: '/opt/appdefender_wrapper',
    });
  });

  it('exits 3 for an unknown function', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .rejects(new ResourceNotFoundException({ message: 'Function not found: nope', $metadata: {} }));
    const result = await runInProcess(['lambda', 'enable', '--function', 'nope'], { env });
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toContain('Function nope: not found');
  });

  it('exits 4 when the SDK finds no credentials', async () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    lambda.on(GetFunctionConfigurationCommand).rejects(error);
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.auth);
    expect(result.stderr).toMatch(/no AWS credentials found/);
    expect(result.stderr).toMatch(/hint: .*AWS_PROFILE/);
  });

  it('exits 2 without a license key', async () => {
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], {
      env: { ...env, ES_LICENSE_KEY: '' },
    });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/No license key/);
  });

  it.each([['checkout:live'], ['arn:aws:lambda:us-east-1:123456789012:function:checkout:3']])(
    'refuses a qualified function %s (configuration belongs to $LATEST)',
    async (name) => {
      const result = await runInProcess(['lambda', 'enable', '--function', name], { env });
      expect(result.code).toBe(ExitCode.usage);
      expect(result.stderr).toMatch(/names a version or alias/);
      expect(lambda.commandCalls(GetFunctionConfigurationCommand)).toHaveLength(0);
    },
  );

  it('refuses a temporary license key with a policy group of its own', async () => {
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout', '--group', 'strict'], {
      env: { ...env, ES_LICENSE_KEY: 'adk_temp_abcdefgh12345678' },
    });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/temporary license key can only use observeAll\.ability/);
  });

  it('refuses a container-image function before looking for a layer', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config({ PackageType: 'Image', Runtime: undefined }));
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/container-image function/);
    expect(lambda.commandCalls(ListLayerVersionsCommand)).toHaveLength(0);
  });

  it('refuses a --layer-arn built for the other architecture', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda.on(GetLayerVersionByArnCommand).resolves({ CompatibleArchitectures: ['x86_64'] });
    const result = await runInProcess(
      ['lambda', 'enable', '--function', 'checkout', '--layer-arn', layerArn('appdefender', 9)],
      { env },
    );
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/built for x86_64 but the function runs on arm64/);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
  });

  it('says how to publish when no layer exists in the region', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda.on(ListLayerVersionsCommand).resolves({ LayerVersions: [] });
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/appdefender layer publish --regions us-east-1/);
  });

  it("fails with Lambda's reason when the update fails", async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce(config())
      .resolvesOnce(config())
      .resolves(config({ LastUpdateStatus: 'Failed', LastUpdateStatusReason: 'layer not accessible' }));
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toMatch(/could not apply the update to checkout: layer not accessible/);
  });
});

describe('lambda enable with a control plane', () => {
  let controlPlane: TestControlPlane;
  beforeAll(async () => {
    controlPlane = await startControlPlane();
  });
  afterAll(() => controlPlane?.close());

  it('exits 3 when the policy group does not exist there, before changing anything', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    const result = await runInProcess(
      ['lambda', 'enable', '--function', 'checkout', '--group', 'typo-group'],
      {
        env: { ...env, ES_API_URL: controlPlane.url, ES_API_TOKEN: controlPlane.apiToken },
      },
    );
    expect(result.code).toBe(ExitCode.notFound);
    expect(result.stderr).toMatch(/The policy group "typo-group" does not exist/);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
  });

  it('sets ES_API_URL to the configured control plane', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    const result = await runInProcess(['lambda', 'enable', '--function', 'checkout'], {
      env: { ...env, ES_API_URL: controlPlane.url, ES_API_TOKEN: controlPlane.apiToken },
    });
    expect(result.code).toBe(ExitCode.ok);
    const input = lambda.commandCalls(UpdateFunctionConfigurationCommand)[0]!.args[0].input;
    expect(input.Environment?.Variables).toMatchObject({
      ES_API_URL: controlPlane.url,
      ES_POLICY_GROUP_NAME: 'observeAll.ability',
    });
  });
});

describe('lambda disable', () => {
  it('restores exactly what enable changed', async () => {
    // Prepare: enable first (dry run, JSON) to get the enabled configuration.
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    lambda
      .on(ListLayerVersionsCommand)
      .resolves({ LayerVersions: [{ LayerVersionArn: layerArn('appdefender-arm64', 9) }] });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    await runInProcess(['lambda', 'enable', '--function', 'checkout'], { env });
    const enabledInput = lambda.commandCalls(UpdateFunctionConfigurationCommand)[0]!.args[0].input;
    lambda.reset();
    lambda.on(GetFunctionConfigurationCommand).resolves(
      config({
        RevisionId: 'rev-7',
        Layers: enabledInput.Layers!.map((Arn) => ({ Arn })),
        Environment: { Variables: enabledInput.Environment!.Variables! },
      }),
    );
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    // Act
    const result = await runInProcess(['lambda', 'disable', '--function', 'checkout'], { env });
    // Assess
    expect(result.code).toBe(ExitCode.ok);
    const input = lambda.commandCalls(UpdateFunctionConfigurationCommand)[0]!.args[0].input;
    expect(input.RevisionId).toBe('rev-7');
    expect(input.Layers).toEqual([layerArn('otel', 3)]);
    expect(input.Environment?.Variables).toEqual(config().Environment?.Variables);
  });

  it('leaves a function without AppDefender untouched', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves(config());
    const result = await runInProcess(['lambda', 'disable', '--function', 'checkout'], { env });
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout).toMatch(/no change/);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
  });
});

describe('lambda list', () => {
  it('shows every function with its AppDefender status and group', async () => {
    lambda
      .on(ListFunctionsCommand)
      .resolvesOnce({
        Functions: [
          config({
            FunctionName: 'b-protected',
            Layers: [{ Arn: layerArn('appdefender-arm64', 2) }],
            Environment: {
              Variables: {
                AWS_LAMBDA_EXEC_WRAPPER: '/opt/appdefender_wrapper',
                ES_POLICY_GROUP_NAME: 'strict',
              },
            },
          }),
          config({ FunctionName: 'a-plain' }),
          config({ FunctionName: 'c-python', Runtime: 'python3.12' }),
        ],
        NextMarker: 'page-2',
      })
      .resolvesOnce({
        Functions: [config({ FunctionName: 'd-image', PackageType: 'Image', Runtime: undefined })],
      });
    const result = await runInProcess(['lambda', 'list', '--json'], { env });
    expect(result.code).toBe(ExitCode.ok);
    const { functions } = JSON.parse(result.stdout);
    expect(functions.map((f: { functionName: string }) => f.functionName)).toEqual([
      'a-plain',
      'b-protected',
      'c-python',
      'd-image',
    ]);
    expect(functions[1]).toMatchObject({ enabled: true, policyGroup: 'strict', architecture: 'arm64' });
    expect(functions[0]).toMatchObject({ enabled: false, supported: true });
    expect(functions[2]).toMatchObject({ enabled: false, supported: false });
    expect(functions[3]).toMatchObject({ runtime: 'image', supported: false });
  });

  it('prints a table for people', async () => {
    lambda.on(ListFunctionsCommand).resolves({ Functions: [config()] });
    const result = await runInProcess(['lambda', 'list'], { env });
    expect(result.stdout).toMatch(/FUNCTION\s+RUNTIME\s+ARCH\s+APPDEFENDER\s+POLICY GROUP/);
    expect(result.stdout).toMatch(/checkout\s+nodejs22\.x\s+arm64\s+off\s+-/);
  });
});
