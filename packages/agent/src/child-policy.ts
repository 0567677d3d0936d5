/**
 * A Node child process runs under the policy its parent enforces. Reading ES_POLICY_FILE or the
 * extension's policy.json again, its agent would read them as they are NOW: an app allowed to write
 * there (filesystem observe, one event; filesystem grant, no hooks) could replace the file with a
 * grant-everything policy and start `node child.js` (process observe, or `node` in allowedCommands),
 * which then ignored network deny (test/child-policy.test.ts). Workers inherit through
 * worker_threads environment data (worker-thread.ts); a process only has its environment:
 *
 * - The spawn hooks put ES_INHERITED_POLICY into every child's environment, after the app's view
 *   of the options and over any value of the app's (support/agent-propagation.ts), so only the
 *   parent's agent can set it on the roads the agent governs. It holds the policy in force, its
 *   source and the application directories, as canonical, ASCII-only JSON, computed once, at the
 *   first spawn, with intrinsics captured at load (the app may have replaced `JSON.stringify`,
 *   `Object.prototype.toJSON`...).
 * - The child's agent takes it and deletes it from `process.env` before the app's first line (it
 *   stays in `/proc/<pid>/environ`, readable but of no use: the app cannot make a child with
 *   another one), and reads no policy file.
 * - A policy whose hand-off would not fit comfortably in one environment string (Linux limits one to
 *   128 KiB, and every child's whole environment to a share of the stack) goes as the SHA-256 of its
 *   canonical JSON instead: the child reads its policy as before and refuses one with another digest
 *   (ES_FAIL_MODE then, with a log line saying why). Only such large policies depend on the file
 *   staying as it was.
 */
import { POLICY_GROUP_FIELDS, type PolicyGroup, parsePolicyGroup } from '@appdefender/policy';
import { getContext, type PolicySource } from './context.js';
import { isArray, jsonStringify, matches, stringCharCodeAt } from './intrinsics.js';
import { describeError } from './log.js';
import { sha256Hex } from './sha256.js';

export const INHERITED_POLICY_KEY = 'ES_INHERITED_POLICY';

/** The largest hand-off given whole (its JSON is ASCII: characters are bytes). */
const INLINE_MAX_LENGTH = 64 * 1024;

const POLICY_SOURCES: readonly PolicySource[] = ['file', 'extension', 'control-plane', 'cache', 'fail-mode'];

// captured at load: the hand-off is built at the first spawn, long after the app's code ran
const Bytes = Uint8Array;
const HEX = '0123456789abcdef';
const DIGEST = /^[0-9a-f]{64}$/;

/**
 * A JSON string literal in ASCII (non-ASCII characters as `\uXXXX`). `JSON.stringify` of a
 * primitive string consults no `toJSON`.
 */
function asciiJsonString(text: string): string {
  const json = jsonStringify(text) as string;
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const code = stringCharCodeAt(json, i);
    if (code < 0x7f) out += json[i];
    else
      out += `\\u${HEX[(code >> 12) & 0xf]}${HEX[(code >> 8) & 0xf]}${HEX[(code >> 4) & 0xf]}${HEX[code & 0xf]}`;
  }
  return out;
}

function jsonStringList(list: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < list.length; i++) out += `${i > 0 ? ',' : ''}${asciiJsonString(list[i] as string)}`;
  return `${out}]`;
}

/** The canonical JSON of a (validated) policy group: fixed field order, ASCII, no whitespace. */
export function canonicalPolicyJson(policy: PolicyGroup): string {
  let out = '{';
  for (let i = 0; i < POLICY_GROUP_FIELDS.length; i++) {
    const field = POLICY_GROUP_FIELDS[i] as (typeof POLICY_GROUP_FIELDS)[number];
    const value = policy[field] as unknown;
    let json: string;
    if (typeof value === 'string') json = asciiJsonString(value);
    else if (typeof value === 'boolean') json = value ? 'true' : 'false';
    else if (isArray(value)) json = jsonStringList(value as string[]);
    else continue; // not a field this policy has: absent on both sides alike
    out += `${i > 0 ? ',' : ''}${asciiJsonString(field)}:${json}`;
  }
  return `${out}}`;
}

/** SHA-256 (hex) of the canonical JSON, which is ASCII: one byte per character. */
export function policyDigest(policy: PolicyGroup): string {
  const json = canonicalPolicyJson(policy);
  const bytes = new Bytes(json.length);
  for (let i = 0; i < json.length; i++) bytes[i] = stringCharCodeAt(json, i);
  return sha256Hex(bytes);
}

let handOffValue: string | undefined;

/**
 * The value of ES_INHERITED_POLICY for a child started now: the policy in force (fixed once the agent
 * started), or undefined before that (nothing but the agent runs then).
 */
export function childHandOffValue(): string | undefined {
  if (handOffValue !== undefined) return handOffValue;
  const context = getContext();
  if (!context) return undefined;
  let head = `{"source":${asciiJsonString(context.policySource)},"appDirs":${jsonStringList(context.appDirs)}`;
  if (context.failReason !== undefined) head += `,"reason":${asciiJsonString(context.failReason)}`;
  const whole = `${head},"policy":${canonicalPolicyJson(context.policy)}}`;
  handOffValue =
    whole.length <= INLINE_MAX_LENGTH ? whole : `${head},"digest":"${policyDigest(context.policy)}"}`;
  return handOffValue;
}

/** What a child process got from its parent's agent. */
export type ParentHandOff =
  | { policy: PolicyGroup; source: PolicySource; reason?: string; appDirs: string[] }
  | { digest: string; source: PolicySource; appDirs: string[] }
  | { unreadable: string };

/**
 * Takes the parent's hand-off out of the environment (before the app's first line: the app does not
 * see it in `process.env`). Runs at agent start, before any application code, so the built-ins are
 * still Node's own. Undefined when the parent's agent gave none (a process the agent did not start).
 */
export function takeParentHandOff(env: NodeJS.ProcessEnv): ParentHandOff | undefined {
  const raw = env[INHERITED_POLICY_KEY];
  if (raw === undefined) return undefined;
  delete env[INHERITED_POLICY_KEY];
  try {
    const value = JSON.parse(raw) as Record<string, unknown>;
    const source = value.source as PolicySource;
    if (!POLICY_SOURCES.includes(source)) throw new Error(`unknown source ${String(value.source)}`);
    const appDirs = value.appDirs;
    if (!isArray(appDirs) || !appDirs.every((dir) => typeof dir === 'string' && dir.startsWith('/')))
      throw new Error('appDirs is not a list of absolute paths');
    if (typeof value.digest === 'string') {
      if (!matches(DIGEST, value.digest)) throw new Error('digest is not a SHA-256');
      return { digest: value.digest, source, appDirs };
    }
    return {
      policy: parsePolicyGroup(value.policy),
      source,
      appDirs,
      ...(typeof value.reason === 'string' ? { reason: value.reason } : {}),
    };
  } catch (error) {
    return { unreadable: describeError(error) };
  }
}
