import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFilePath, resolveConfig } from '../src/config.js';
import { ValidationError } from '../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('configFilePath', () => {
  it.each([
    [{ APPDEFENDER_CONFIG: '/etc/ad.json', HOME: '/home/u' }, '/etc/ad.json'],
    [{ XDG_CONFIG_HOME: '/xdg', HOME: '/home/u' }, '/xdg/appdefender/config.json'],
    [{ HOME: '/home/u' }, '/home/u/.config/appdefender/config.json'],
  ])('%o -> %s', (env, expected) => {
    expect(configFilePath(env)).toBe(expected);
  });
});

describe('resolveConfig', () => {
  it('takes flags first, then the environment, then the config file, and says where each came from', async () => {
    // Prepare
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        apiUrl: 'http://file',
        apiToken: 'adt_file',
        region: 'eu-west-1',
        policyGroup: 'g-file',
      }),
    );
    // Act
    const config = await resolveConfig(
      { apiUrl: 'http://flag' },
      {
        APPDEFENDER_CONFIG: path,
        ES_API_URL: 'http://env',
        ES_API_TOKEN: 'adt_env',
        AWS_DEFAULT_REGION: 'us-west-2',
      },
    );
    // Assess
    expect(config.apiUrl).toEqual({ value: 'http://flag', source: 'flag', from: '--api-url' });
    expect(config.apiToken).toEqual({ value: 'adt_env', source: 'environment', from: 'ES_API_TOKEN' });
    expect(config.region).toEqual({ value: 'us-west-2', source: 'environment', from: 'AWS_DEFAULT_REGION' });
    expect(config.policyGroup).toEqual({ value: 'g-file', source: 'config file', from: 'policyGroup' });
    expect(config.licenseKey).toBeUndefined();
    expect(config.configFileFound).toBe(true);
  });

  it('prefers AWS_REGION over AWS_DEFAULT_REGION', async () => {
    const config = await resolveConfig(
      {},
      { APPDEFENDER_CONFIG: join(dir, 'none.json'), AWS_REGION: 'a', AWS_DEFAULT_REGION: 'b' },
    );
    expect(config.region?.value).toBe('a');
    expect(config.configFileFound).toBe(false);
  });

  it('refuses unknown keys and wrong types in the config file, naming each', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ apiUrl: 5, apiTokn: 'x' }));
    const error = await resolveConfig({}, { APPDEFENDER_CONFIG: path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([
      { field: 'apiUrl', message: 'must be a non-empty string' },
      { field: 'apiTokn', message: expect.stringMatching(/^unknown key/) },
    ]);
  });

  it('refuses a config file that is not JSON', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ apiUrl: ');
    await expect(resolveConfig({}, { APPDEFENDER_CONFIG: path })).rejects.toThrow(/is not valid JSON/);
  });
});
