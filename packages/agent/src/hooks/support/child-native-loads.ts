/**
 * What a child process loads as native code before anything of the agent runs there: libraries the
 * dynamic loader preloads, and what OpenSSL loads at start. A Node child reads
 * its OpenSSL configuration at start, before its preload modules (so before its agent): a
 * configuration can name engines (`dynamic_path`) and providers (`module`), shared libraries whose
 * constructors run right away. So can any other program linked with OpenSSL (curl, openssl, python),
 * which has no agent at all. The roads, each judged as process operation `load` with the file or
 * directory as target (like an addon, hooks/native-addons.ts), and the spawn refused when denied:
 *
 * - OPENSSL_CONF (every OpenSSL program; Node reads its `nodejs_conf` section, or `openssl_conf` with
 *   `--openssl-shared-config`, which therefore needs no judgement of its own);
 * - OPENSSL_CONF_INCLUDE (where a configuration's relative `.include` is looked for);
 * - OPENSSL_ENGINES and OPENSSL_MODULES (where an engine or provider named by id is looked for:
 *   `node --enable-fips` loads `<OPENSSL_MODULES>/fips.so`);
 * - `--openssl-config=<file>` or `--openssl-config <file>` in the child's argv or NODE_OPTIONS (Node
 *   reads `_` in an option name as `-`: `--openssl_config` too). Looked for anywhere in argv, as the
 *   preload-skipping flags are (child-process.ts): a false match on another program only judges it;
 * - LD_PRELOAD and LD_AUDIT: libraries the dynamic loader maps into any dynamically linked program
 *   before its `main`, Node included. (LD_LIBRARY_PATH only changes where the libraries a program
 *   needs are looked for; it is not judged: see the README's Known limitations.)
 *
 * Values this process itself started with are not judged: the deployer set them (the Lambda
 * configuration, the wrapper), this process already loaded them, and every child inherits them.
 * Only what the app adds or changes is.
 */
import { mapGet, stringIndexOf, stringSlice, stringStartsWith } from '../../intrinsics.js';

export const LOADING_VARIABLES: readonly string[] = [
  'OPENSSL_CONF',
  'OPENSSL_CONF_INCLUDE',
  'OPENSSL_ENGINES',
  'OPENSSL_MODULES',
  'LD_PRELOAD',
  'LD_AUDIT',
];
const CONFIG_OPTION = '--openssl-config';

/** One thing a child would load at start: `target` (a file, directory or library list) and what names it. */
export interface NativeLoad {
  target: string;
  via: string;
}

const startValues = new Map<string, string>();
const startConfigs: string[] = [];
let initialized = false;

/** Captures what this process started with; call at install, before the app runs. */
export function initChildNativeLoads(): void {
  if (initialized) return;
  initialized = true;
  const env = process.env;
  for (let i = 0; i < LOADING_VARIABLES.length; i++) {
    const name = LOADING_VARIABLES[i] as string;
    const value = env[name];
    if (value !== undefined) startValues.set(name, value);
  }
  const conf = env.OPENSSL_CONF;
  if (conf) startConfigs[startConfigs.length] = conf;
  const fromOptions: string[] = [];
  configOptionValues(nodeOptionsTokens(env.NODE_OPTIONS ?? ''), fromOptions);
  configOptionValues(process.execArgv, fromOptions);
  for (let i = 0; i < fromOptions.length; i++) startConfigs[startConfigs.length] = fromOptions[i] as string;
}

function trustedConfig(path: string): boolean {
  for (let i = 0; i < startConfigs.length; i++) if (startConfigs[i] === path) return true;
  return false;
}

/**
 * What a child started with `args` (its arguments after argv[0]) and `envPairs` (`KEY=value`
 * strings) would load at start that this process did not start with. Every entry of a
 * name is looked at, not only the first one the child's getenv() answers.
 */
export function nativeLoadsOf(args: readonly string[], envPairs: readonly string[]): NativeLoad[] {
  const loads: NativeLoad[] = [];
  const configs: string[] = [];
  configOptionValues(args, configs);
  for (let i = 0; i < envPairs.length; i++) {
    const pair = envPairs[i] as string;
    const equals = stringIndexOf(pair, '=');
    if (equals <= 0) continue;
    const name = stringSlice(pair, 0, equals);
    const value = stringSlice(pair, equals + 1);
    if (name === 'NODE_OPTIONS') {
      configOptionValues(nodeOptionsTokens(value), configs);
      continue;
    }
    if (value === '' || !isLoadingVariable(name)) continue;
    if (name === 'OPENSSL_CONF' ? trustedConfig(value) : mapGet(startValues, name) === value) continue;
    loads[loads.length] = { target: value, via: name };
  }
  for (let i = 0; i < configs.length; i++) {
    const config = configs[i] as string;
    if (!trustedConfig(config)) loads[loads.length] = { target: config, via: CONFIG_OPTION };
  }
  return loads;
}

/** One string for comparing two `nativeLoadsOf` answers. */
export function loadsKey(loads: readonly NativeLoad[]): string {
  let key = '';
  for (let i = 0; i < loads.length; i++) {
    const load = loads[i] as NativeLoad;
    key += `${load.via}\u0000${load.target}\u0000`;
  }
  return key;
}

function isLoadingVariable(name: string): boolean {
  for (let i = 0; i < LOADING_VARIABLES.length; i++) if (LOADING_VARIABLES[i] === name) return true;
  return false;
}

/**
 * `--openssl-config` values among Node arguments, appended to `out`: `--openssl-config=<file>`, or
 * `--openssl-config <file>`; Node reads `_` in an option's name as `-` (src/node_options-inl.h).
 */
function configOptionValues(tokens: readonly string[], out: string[]): void {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (typeof token !== 'string' || !stringStartsWith(token, '--')) continue;
    const equals = stringIndexOf(token, '=');
    const name = equals === -1 ? token : stringSlice(token, 0, equals);
    if (normalizedOptionName(name) !== CONFIG_OPTION) continue;
    if (equals !== -1) out[out.length] = stringSlice(token, equals + 1);
    else if (i + 1 < tokens.length) out[out.length] = tokens[i + 1] as string;
  }
}

/** `--openssl_config` → `--openssl-config`: every `_` after the leading dashes becomes `-`. */
export function normalizedOptionName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) out += i >= 2 && name[i] === '_' ? '-' : name[i];
  return out;
}

/**
 * NODE_OPTIONS split as Node splits it (src/node_options.cc ParseNodeOptionsEnvVar): at spaces
 * outside double quotes; a backslash inside quotes takes the next character as it is.
 */
function nodeOptionsTokens(options: string): string[] {
  const tokens: string[] = [];
  let current: string | undefined;
  let quoted = false;
  for (let i = 0; i < options.length; i++) {
    let c = options[i] as string;
    if (c === '\\' && quoted && i + 1 < options.length) c = options[++i] as string;
    else if (c === ' ' && !quoted) {
      if (current !== undefined) tokens[tokens.length] = current;
      current = undefined;
      continue;
    } else if (c === '"') {
      // a quote starts no argument by itself: `"" /x` is the one argument `/x`
      quoted = !quoted;
      continue;
    }
    current = (current ?? '') + c;
  }
  if (current !== undefined) tokens[tokens.length] = current;
  return tokens;
}
