import type { FunctionConfiguration } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { ENABLED_BY_VAR, WRAPPER_PATH } from '../src/aws/constants.js';
import { environmentBytes, planDisable, planEnable } from '../src/aws/enable-plan.js';
import { CliError } from '../src/errors.js';

const layer = (name: string, version: number, region = 'us-east-1') =>
  `arn:aws:lambda:${region}:123456789012:layer:${name}:${version}`;

const fn = (overrides: Partial<FunctionConfiguration> = {}): FunctionConfiguration => ({
  FunctionName: 'checkout',
  Runtime: 'nodejs20.x',
  PackageType: 'Zip',
  Architectures: ['x86_64'],
  RevisionId: 'rev-1',
  Layers: [],
  Environment: { Variables: { TABLE: 'orders' } },
  ...overrides,
});

const request = {
  layerArn: layer('appdefender', 3),
  licenseKey: 'adk_live_abcdefgh1234',
  policyGroup: 'strict',
};

/** Applies a plan's result to a configuration, as Lambda would. */
const applied = (
  config: FunctionConfiguration,
  plan: ReturnType<typeof planEnable>,
): FunctionConfiguration => ({
  ...config,
  Layers: plan.after.layers.map((Arn) => ({ Arn })),
  Environment: { Variables: plan.after.environment },
});

describe('planEnable', () => {
  it('adds the layer and the variables, keeping the user variables', () => {
    // Prepare
    const config = fn({ Layers: [{ Arn: layer('otel', 1) }] });
    // Act
    const plan = planEnable(config, request);
    // Assess
    expect(plan.changed).toBe(true);
    expect(plan.after.layers).toEqual([layer('otel', 1), layer('appdefender', 3)]);
    expect(plan.after.environment).toMatchObject({
      TABLE: 'orders',
      AWS_LAMBDA_EXEC_WRAPPER: WRAPPER_PATH,
      ES_LICENSE_KEY: 'adk_live_abcdefgh1234',
      ES_POLICY_GROUP_NAME: 'strict',
    });
    expect(plan.after.environment['ES_CHAINED_WRAPPER']).toBeUndefined();
  });

  it('replaces an older AppDefender layer in its slot and keeps the order of the others', () => {
    const config = fn({
      Layers: [{ Arn: layer('a', 1) }, { Arn: layer('appdefender', 1) }, { Arn: layer('b', 2) }],
    });
    const plan = planEnable(config, request);
    expect(plan.after.layers).toEqual([layer('a', 1), layer('appdefender', 3), layer('b', 2)]);
  });

  it('chains a wrapper the function already had', () => {
    const config = fn({ Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/otel-handler' } } });
    const plan = planEnable(config, request);
    expect(plan.after.environment['AWS_LAMBDA_EXEC_WRAPPER']).toBe(WRAPPER_PATH);
    expect(plan.after.environment['ES_CHAINED_WRAPPER']).toBe('/opt/otel-handler');
  });

  it('sets ES_API_URL only when a control plane is given', () => {
    expect(planEnable(fn(), request).after.environment['ES_API_URL']).toBeUndefined();
    expect(
      planEnable(fn(), { ...request, apiUrl: 'https://ad.example.com' }).after.environment['ES_API_URL'],
    ).toBe('https://ad.example.com');
  });

  it('refuses a sixth layer', () => {
    const five = [1, 2, 3, 4, 5].map((i) => ({ Arn: layer(`other${i}`, 1) }));
    expect(() => planEnable(fn({ Layers: five }), request)).toThrow(/already uses 5 layers/);
  });

  it('allows replacing when five layers include an AppDefender one', () => {
    const five = [1, 2, 3, 4].map((i) => ({ Arn: layer(`other${i}`, 1) }));
    const plan = planEnable(fn({ Layers: [...five, { Arn: layer('appdefender', 2) }] }), request);
    expect(plan.after.layers).toHaveLength(5);
    expect(plan.after.layers[4]).toBe(layer('appdefender', 3));
  });

  it('refuses when the variables would pass 4 KB, naming the size', () => {
    const big = fn({ Environment: { Variables: { BLOB: 'x'.repeat(3900) } } });
    expect(() => planEnable(big, request)).toThrow(/would take \d+ bytes .* Lambda allows 4096/);
  });

  it.each([
    [{ PackageType: 'Image' as const }, /container-image function/],
    [{ Runtime: 'python3.12' as const }, /runtime python3\.12, which AppDefender does not support/],
    [{ Runtime: 'nodejs16.x' as const }, /runtime nodejs16\.x/],
    [{ Runtime: undefined }, /runtime \(none\)/],
  ])('refuses unsupported functions: %o', (overrides, message) => {
    const error = (() => {
      try {
        planEnable(fn(overrides), request);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('UNSUPPORTED_FUNCTION');
    expect((error as CliError).message).toMatch(message);
  });

  it('reports no change when the function is already enabled the same way', () => {
    const once = applied(fn(), planEnable(fn(), request));
    expect(planEnable(once, request).changed).toBe(false);
  });
});

describe('planDisable', () => {
  const scenarios: [string, FunctionConfiguration][] = [
    ['a plain function', fn()],
    ['a function with other layers', fn({ Layers: [{ Arn: layer('a', 1) }, { Arn: layer('b', 1) }] })],
    [
      'a function with its own wrapper',
      fn({ Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/w', X: '1' } } }),
    ],
    [
      'a function with an older AppDefender set up by hand',
      fn({
        Layers: [{ Arn: layer('a', 1) }, { Arn: layer('appdefender', 1) }],
        Environment: { Variables: { ES_LICENSE_KEY: 'adk_live_old000000', ES_POLICY_GROUP_NAME: 'old' } },
      }),
    ],
    ['a function with no environment', fn({ Environment: undefined })],
  ];

  it.each(scenarios)('restores %s exactly after enable', (_name, original) => {
    // Prepare
    const enabled = applied(original, planEnable(original, request));
    // Act
    const plan = planDisable(enabled);
    // Assess
    expect(plan.after.layers).toEqual((original.Layers ?? []).map((l) => l.Arn));
    expect(plan.after.environment).toEqual(original.Environment?.Variables ?? {});
  });

  it('restores the state before the first enable after an upgrade', () => {
    const original = fn({ Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/w' } } });
    const first = applied(original, planEnable(original, request));
    const second = applied(
      first,
      planEnable(first, {
        ...request,
        layerArn: layer('appdefender', 4),
        policyGroup: 'other',
        apiUrl: 'https://x.example',
      }),
    );
    expect(second.Layers?.map((l) => l.Arn)).toEqual([layer('appdefender', 4)]);
    expect(second.Environment?.Variables?.['ES_CHAINED_WRAPPER']).toBe('/opt/w');
    const plan = planDisable(second);
    expect(plan.after.layers).toEqual([]);
    expect(plan.after.environment).toEqual({ AWS_LAMBDA_EXEC_WRAPPER: '/opt/w' });
  });

  it('refuses to guess when AppDefender was not set up by enable, unless forced', () => {
    const manual = fn({
      Layers: [{ Arn: layer('appdefender', 1) }],
      Environment: {
        Variables: {
          AWS_LAMBDA_EXEC_WRAPPER: WRAPPER_PATH,
          ES_CHAINED_WRAPPER: '/opt/w',
          ES_LICENSE_KEY: 'k',
          KEEP: '1',
        },
      },
    });
    expect(() => planDisable(manual)).toThrow(/no ES_ENABLED_BY record/);
    const plan = planDisable(manual, { force: true });
    expect(plan.after.layers).toEqual([]);
    expect(plan.after.environment).toEqual({ AWS_LAMBDA_EXEC_WRAPPER: '/opt/w', KEEP: '1' });
  });

  it('is a no-op on a function without AppDefender', () => {
    expect(planDisable(fn()).changed).toBe(false);
  });

  it('names a damaged record', () => {
    expect(() => planDisable(fn({ Environment: { Variables: { [ENABLED_BY_VAR]: '{oops' } } }))).toThrow(
      /ES_ENABLED_BY is not valid JSON/,
    );
  });
});

describe('environmentBytes', () => {
  it('counts the JSON form in UTF-8 bytes', () => {
    expect(environmentBytes({ A: 'é' })).toBe(Buffer.byteLength('{"A":"é"}'));
  });
});
