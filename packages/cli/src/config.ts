import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, ExitCode, type FieldProblem, UsageError, ValidationError } from './errors.js';

/** Where a setting came from, so `doctor` and error messages can say which one to fix. */
export type ConfigSource = 'flag' | 'environment' | 'config file' | 'default';

export interface Setting<T = string> {
  value: T;
  source: ConfigSource;
  /** The flag, variable or config key that supplied it. */
  from: string;
}

export interface CliConfig {
  apiUrl?: Setting;
  apiToken?: Setting;
  licenseKey?: Setting;
  policyGroup?: Setting;
  region?: Setting;
  profile?: Setting;
  /** The config file that was read (or would be), for messages. */
  configPath: string;
  configFileFound: boolean;
}

/** The keys a config file may hold; anything else is refused so typos never go unnoticed. */
const fileKeys = ['apiUrl', 'apiToken', 'licenseKey', 'policyGroup', 'region', 'profile'] as const;
type FileKey = (typeof fileKeys)[number];
export type ConfigFile = Partial<Record<FileKey, string>>;

export interface ConfigFlags {
  apiUrl?: string | undefined;
  apiToken?: string | undefined;
  licenseKey?: string | undefined;
  group?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
}

/** The config file path: `APPDEFENDER_CONFIG`, else `$XDG_CONFIG_HOME/appdefender/config.json`, else `~/.config/…`. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  const explicit = env['APPDEFENDER_CONFIG'];
  if (explicit) return explicit;
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'appdefender', 'config.json');
}

/** Reads and checks the config file; a missing file is no error, a malformed one is. */
export async function readConfigFile(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError('CONFIG_UNREADABLE', ExitCode.usage, `Cannot read the config file ${path}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`The config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`The config file ${path} must hold a JSON object`);
  }
  const problems: FieldProblem[] = [];
  const result: ConfigFile = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(fileKeys as readonly string[]).includes(key)) {
      problems.push({ field: key, message: `unknown key (allowed: ${fileKeys.join(', ')})` });
    } else if (typeof value !== 'string' || value === '') {
      problems.push({ field: key, message: 'must be a non-empty string' });
    } else {
      result[key as FileKey] = value;
    }
  }
  if (problems.length > 0) throw new ValidationError(`The config file ${path} is invalid`, problems);
  return result;
}

function pick(
  flag: { value: string | undefined; name: string },
  envNames: string[],
  env: NodeJS.ProcessEnv,
  file: ConfigFile | undefined,
  fileKey: FileKey,
): Setting | undefined {
  if (flag.value) return { value: flag.value, source: 'flag', from: flag.name };
  for (const name of envNames) {
    const value = env[name];
    if (value) return { value, source: 'environment', from: name };
  }
  const fromFile = file?.[fileKey];
  if (fromFile) return { value: fromFile, source: 'config file', from: fileKey };
  return undefined;
}

/** Resolves every setting: flags first, then the environment, then the config file. */
export async function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): Promise<CliConfig> {
  const configPath = configFilePath(env);
  const file = await readConfigFile(configPath);
  const config: CliConfig = { configPath, configFileFound: file !== undefined };
  const set = <K extends keyof CliConfig>(key: K, value: CliConfig[K] | undefined) => {
    if (value !== undefined) config[key] = value;
  };
  set('apiUrl', pick({ value: flags.apiUrl, name: '--api-url' }, ['ES_API_URL'], env, file, 'apiUrl'));
  set(
    'apiToken',
    pick({ value: flags.apiToken, name: '--api-token' }, ['ES_API_TOKEN'], env, file, 'apiToken'),
  );
  set(
    'licenseKey',
    pick({ value: flags.licenseKey, name: '--license-key' }, ['ES_LICENSE_KEY'], env, file, 'licenseKey'),
  );
  set(
    'policyGroup',
    pick({ value: flags.group, name: '--group' }, ['ES_POLICY_GROUP_NAME'], env, file, 'policyGroup'),
  );
  set(
    'region',
    pick(
      { value: flags.region, name: '--region' },
      ['AWS_REGION', 'AWS_DEFAULT_REGION'],
      env,
      file,
      'region',
    ),
  );
  set('profile', pick({ value: flags.profile, name: '--profile' }, ['AWS_PROFILE'], env, file, 'profile'));
  return config;
}

/** Describes a setting's origin for messages: `ES_API_URL (environment)`. */
export function describeSetting(setting: Setting): string {
  return `${setting.from} (${setting.source})`;
}
