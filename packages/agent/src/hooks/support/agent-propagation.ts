/**
 * Keeping the agent in every Node.js process and thread the app starts. A child inherits
 * `NODE_OPTIONS=--require <agent>` only if the caller passes it on; a hostile caller strips it (or
 * points `ES_POLICY_FILE` at a lenient policy of its own). So every spawn's environment is corrected:
 * `--require <this agent>` is appended to NODE_OPTIONS when missing, and the agent's configuration
 * variables are set to this process's values (removed when this process had none). Harmless for
 * programs that are not Node: they ignore NODE_OPTIONS and pass it on to their own children.
 * A child process also gets the policy in force (ES_INHERITED_POLICY, child-policy.ts), whatever the
 * app put there; a worker gets it otherwise (worker-thread.ts), so its environment only loses the app's.
 */
import { childHandOffValue, INHERITED_POLICY_KEY } from '../../child-policy.js';

/** The agent's configuration, as read at start; the child must see exactly this. */
const CONFIG_KEYS = [
  'ES_POLICY_FILE',
  'ES_EVENT_FILE',
  'ES_RUNTIME_DIR',
  'ES_LICENSE_KEY',
  'ES_POLICY_GROUP_NAME',
  'ES_API_URL',
  'ES_FAIL_MODE',
  'ES_POLICY_WAIT_MS',
  'ES_AGGREGATE_WINDOW_MS',
];
/**
 * Kept when set here, so a child governs the same application directory and trusts no other
 * runtime directory than this process (runtime-own-work.ts: the runtime's addons are not judged).
 */
const INHERITED_KEYS = ['LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR'];

let agentFile = '';
let requireOption = '';
const configValues = new Map<string, string | undefined>();

/** Captures the agent's file and configuration; call at install, before the app runs. */
export function initAgentPropagation(): void {
  if (agentFile) return;
  agentFile = typeof __filename === 'string' ? __filename : '';
  requireOption = `--require ${quoteNodeOption(agentFile)}`;
  for (const key of [...CONFIG_KEYS, ...INHERITED_KEYS]) configValues.set(key, process.env[key]);
}

export function agentPath(): string {
  return agentFile;
}

/** NODE_OPTIONS understands double quotes with backslash escapes (src/node_options.cc). */
function quoteNodeOption(value: string): string {
  return /[\s"'\\]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
}

// The environment is corrected with methods captured at load and index loops: the app may replace
// `String.prototype.includes`, `Array.prototype.push`/`splice`/`includes` or the iterators so that a
// child starts without the agent or with the app's ES_POLICY_FILE (test/redteam-process.test.ts).
const uncurry = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call) as <
  T,
  A extends unknown[],
  R,
>(
  method: (this: T, ...args: A) => R,
) => (self: T, ...args: A) => R;
const stringSlice = uncurry(String.prototype.slice);
const stringIndexOf = uncurry(String.prototype.indexOf as (this: string, search: string) => number);
const stringStartsWith = uncurry(String.prototype.startsWith as (this: string, search: string) => boolean);
const arraySplice = uncurry(
  Array.prototype.splice as (this: unknown[], start: number, count: number) => unknown[],
);
const objectKeys = Object.keys;
const hasOwn = Object.hasOwn;
const isArray = Array.isArray;

function isConfigKey(key: string): boolean {
  for (let i = 0; i < CONFIG_KEYS.length; i++) if (CONFIG_KEYS[i] === key) return true;
  return false;
}

/** `ES_INHERITED_POLICY=…` for a child process, or undefined when there is no policy yet. */
function handOffPair(): string | undefined {
  const value = childHandOffValue();
  return value === undefined ? undefined : `${INHERITED_POLICY_KEY}=${value}`;
}

/**
 * NODE_OPTIONS starting with the agent's `--require`. Preloads run in order, NODE_OPTIONS' before the
 * command line's: a preload of the app's placed before the agent would run first and could disarm
 * it (set its started marker, rewrite built-ins), so the agent goes first unless our own option
 * already starts the list. A mere mention of the agent's path elsewhere
 * (`--title=/opt/appdefender/agent.cjs`) loads nothing, and a second `--require` of it is a no-op.
 */
export function withAgentRequire(nodeOptions: string | undefined): string {
  if (!agentFile) return nodeOptions ?? '';
  if (nodeOptions === requireOption || (nodeOptions && stringStartsWith(nodeOptions, `${requireOption} `)))
    return nodeOptions;
  return nodeOptions ? `${requireOption} ${nodeOptions}` : requireOption;
}

/** Corrects an `envPairs` array (`KEY=value` strings, what the spawn bindings take) in place. */
export function fixEnvPairs(envPairs: unknown): void {
  if (!agentFile || !isArray(envPairs)) return;
  const pairs = envPairs as unknown[];
  // Exactly one NODE_OPTIONS is left: the child's getenv() answers the FIRST of several, so correcting
  // only one of `['NODE_OPTIONS=', 'NODE_OPTIONS=x']` (raw spawn bindings take any array) left the
  // child without the agent. The first is the one the child would have used; later ones go.
  let nodeOptionsIndex = -1;
  for (let i = pairs.length - 1; i >= 0; i--) {
    const pair = pairs[i];
    if (typeof pair !== 'string') continue;
    const key = stringSlice(pair, 0, stringIndexOf(pair, '='));
    if (key === 'NODE_OPTIONS') {
      if (nodeOptionsIndex !== -1) arraySplice(pairs, nodeOptionsIndex, 1);
      nodeOptionsIndex = i;
    } else if (
      key === INHERITED_POLICY_KEY ||
      (configValues.has(key) && (isConfigKey(key) || configValues.get(key) !== undefined))
    ) {
      arraySplice(pairs, i, 1);
      if (nodeOptionsIndex > i) nodeOptionsIndex--;
    }
  }
  configValues.forEach((value, key) => {
    if (value !== undefined) pairs[pairs.length] = `${key}=${value}`;
  });
  const handOff = handOffPair();
  if (handOff !== undefined) pairs[pairs.length] = handOff;
  if (nodeOptionsIndex === -1) {
    pairs[pairs.length] = `NODE_OPTIONS=${withAgentRequire(undefined)}`;
  } else {
    const current = stringSlice(pairs[nodeOptionsIndex] as string, 'NODE_OPTIONS='.length);
    pairs[nodeOptionsIndex] = `NODE_OPTIONS=${withAgentRequire(current)}`;
  }
}

/**
 * Corrects an environment object in place: a worker started with `SHARE_ENV` reads this process's
 * own `process.env`, where the app may have set `ES_POLICY_FILE` to a lenient policy of its own.
 */
export function fixEnvInPlace(env: Record<string, string | undefined>): void {
  if (!agentFile) return;
  for (let i = 0; i < CONFIG_KEYS.length; i++) delete env[CONFIG_KEYS[i] as string];
  delete env[INHERITED_POLICY_KEY];
  configValues.forEach((value, key) => {
    if (value !== undefined) env[key] = value;
  });
  env.NODE_OPTIONS = withAgentRequire(env.NODE_OPTIONS);
}

/**
 * A corrected copy of an environment object: a worker's `env`, or (`forProcess`) the environment of
 * `process.execve`, whose new program gets the policy in force like any child process.
 */
export function fixedEnv(env: Record<string, unknown>, forProcess = false): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = objectKeys(env);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = env[key];
    if (value === undefined) continue;
    // `{ 'NODE_OPTIONS=--title': 'x' }` becomes the string `NODE_OPTIONS=--title=x`, which the new
    // program reads as NODE_OPTIONS, and before ours: a name is what precedes the first `=`, and
    // the first string of a name is the one getenv() answers (test/redteam-round5.test.ts)
    const equals = stringIndexOf(key, '=');
    if (equals === -1) out[key] = String(value);
    else {
      const name = stringSlice(key, 0, equals);
      if (!hasOwn(out, name)) out[name] = `${stringSlice(key, equals + 1)}=${String(value)}`;
    }
  }
  for (let i = 0; i < CONFIG_KEYS.length; i++) delete out[CONFIG_KEYS[i] as string];
  delete out[INHERITED_POLICY_KEY];
  configValues.forEach((value, key) => {
    if (value !== undefined) out[key] = value;
  });
  const handOff = forProcess ? childHandOffValue() : undefined;
  if (handOff !== undefined) out[INHERITED_POLICY_KEY] = handOff;
  out.NODE_OPTIONS = withAgentRequire(out.NODE_OPTIONS);
  return out;
}
