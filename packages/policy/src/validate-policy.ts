/**
 * Policy group validation (contract §1): the trust boundary for policy files, control-plane bodies and
 * hand-off files. Collects every problem instead of stopping at the first, each naming its field.
 */
import { type ParsedDomainEntry, parseDomainEntry } from './domain-match.js';
import { PolicyValidationError } from './errors.js';
import { normalizeAbsolutePath } from './paths.js';
import { policyAdvisor } from './policy-advice.js';
import type { Mode, PolicyGroup, ValidationIssue, ValidationResult } from './types.js';

/** Limits, documented in the README. They bound memory and matching time, not legitimate use. */
export const POLICY_LIMITS = Object.freeze({
  nameMaxLength: 128,
  descriptionMaxLength: 1024,
  /** Entries per list (allowedDomains, allowedPaths, allowedCommands). */
  listMaxEntries: 256,
  /** A comma-separated allowedDomains string. */
  domainsStringMaxLength: 65_536,
  /** One allowedPaths or allowedCommands entry. */
  pathMaxLength: 4096,
});

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MODES: readonly Mode[] = ['grant', 'observe', 'deny'];
const MODE_SYNONYMS: Readonly<Record<string, Mode>> = {
  allow: 'grant',
  allowed: 'grant',
  permit: 'grant',
  block: 'deny',
  blocked: 'deny',
  reject: 'deny',
  monitor: 'observe',
  audit: 'observe',
  log: 'observe',
  report: 'observe',
};

/**
 * The policy group fields in their documented order (contract §1): what the validator knows, what
 * policy files are written with, what the API's schemas require.
 */
export const POLICY_GROUP_FIELDS = [
  'name',
  'description',
  'network',
  'filesystem',
  'process',
  'terminateOnDeny',
  'allowCloudProviderTraffic',
  'allowedDomains',
  'allowedPaths',
  'allowedCommands',
] as const satisfies readonly (keyof PolicyGroup)[];

/** Advice on weak entries (policy-advice.ts); absent when only errors matter (`parsePolicyGroup`). */
export interface PolicyAdvisor {
  domain(parsed: ParsedDomainEntry): Array<{ message: string; suggestion?: string }>;
  command(command: string): { message: string; suggestion?: string } | undefined;
  path(path: string): { message: string; suggestion?: string } | undefined;
  field(unknownKey: string, knownFields: readonly string[]): string | undefined;
}

type Issues = { errors: ValidationIssue[]; warnings: ValidationIssue[]; advisor: PolicyAdvisor | null };

/**
 * Validates and normalises a policy group. Missing modes default to `observe`, missing booleans to
 * false, missing lists to empty; unknown fields are warnings; weak allowedDomains entries are warnings
 * with a safer suggestion.
 * @example
 * const result = validatePolicyGroup({ name: 'p', network: 'deny', allowedDomains: 'Stripe.com, *.example.com' });
 * // result.ok === true, result.policy.allowedDomains = ['stripe.com', '*.example.com'],
 * // result.warnings[0] = { field: 'allowedDomains[0]', message: '…also stripe.com.evil.example…', suggestion: '.stripe.com' }
 */
export function validatePolicyGroup(input: unknown): ValidationResult {
  return checkPolicyGroup(input, policyAdvisor);
}

/**
 * Like `validatePolicyGroup`, but returns the normalised policy or throws `PolicyValidationError`
 * (code `ERR_INVALID_POLICY`, `errors` naming every field). Skips the weak-entry advice, which it would
 * discard anyway.
 * @example const policy = parsePolicyGroup(JSON.parse(readFileSync(file, 'utf8')));
 */
export function parsePolicyGroup(input: unknown): PolicyGroup {
  const result = checkPolicyGroup(input, null);
  if (!result.ok) throw new PolicyValidationError(result.errors);
  return result.policy;
}

function checkPolicyGroup(input: unknown, advisor: PolicyAdvisor | null): ValidationResult {
  const issues: Issues = { errors: [], warnings: [], advisor };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    issues.errors.push({
      field: '',
      message: `a policy group must be a JSON object, got ${describeType(input)}`,
    });
    return { ok: false, errors: issues.errors, warnings: issues.warnings };
  }
  const record = input as Record<string, unknown>;

  for (const key of Object.keys(record)) {
    if ((POLICY_GROUP_FIELDS as readonly string[]).includes(key)) continue;
    const near = advisor?.field(key, POLICY_GROUP_FIELDS);
    issues.warnings.push({
      field: key,
      message: 'is not a policy group field and is ignored',
      ...(near ? { suggestion: near } : {}),
    });
  }

  const policy: PolicyGroup = {
    name: validateName(record, issues),
    description: validateDescription(record, issues),
    network: validateMode(record, 'network', issues),
    filesystem: validateMode(record, 'filesystem', issues),
    process: validateMode(record, 'process', issues),
    terminateOnDeny: validateBoolean(record, 'terminateOnDeny', issues),
    allowCloudProviderTraffic: validateBoolean(record, 'allowCloudProviderTraffic', issues),
    allowedDomains: validateDomains(record, issues),
    allowedPaths: validatePaths(record, issues),
    allowedCommands: validateCommands(record, issues),
  };
  if (issues.errors.length > 0) return { ok: false, errors: issues.errors, warnings: issues.warnings };
  return { ok: true, policy, warnings: issues.warnings };
}

function validateName(record: Record<string, unknown>, issues: Issues): string {
  const value = record['name'];
  if (value === undefined) {
    issues.errors.push({ field: 'name', message: 'is required' });
    return '';
  }
  if (typeof value !== 'string') {
    issues.errors.push({ field: 'name', message: `must be a string, got ${describeType(value)}` });
    return '';
  }
  const name = value.trim();
  if (name.length === 0) {
    issues.errors.push({ field: 'name', message: 'must not be empty' });
  } else if (name.length > POLICY_LIMITS.nameMaxLength) {
    issues.errors.push({
      field: 'name',
      message: `is ${name.length} characters long; the limit is ${POLICY_LIMITS.nameMaxLength}`,
    });
  } else if (!NAME_PATTERN.test(name)) {
    const suggestion = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
    issues.errors.push({
      field: 'name',
      message: "may only contain letters, digits, '.', '_' and '-', and must start with a letter or digit",
      ...(suggestion ? { suggestion } : {}),
    });
  }
  return name;
}

function validateDescription(record: Record<string, unknown>, issues: Issues): string {
  const value = record['description'];
  if (value === undefined) return '';
  if (typeof value !== 'string') {
    issues.errors.push({ field: 'description', message: `must be a string, got ${describeType(value)}` });
    return '';
  }
  if (value.length > POLICY_LIMITS.descriptionMaxLength) {
    issues.errors.push({
      field: 'description',
      message: `is ${value.length} characters long; the limit is ${POLICY_LIMITS.descriptionMaxLength}`,
    });
  }
  return value;
}

function validateMode(
  record: Record<string, unknown>,
  field: 'network' | 'filesystem' | 'process',
  issues: Issues,
): Mode {
  const value = record[field];
  if (value === undefined) return 'observe';
  if (typeof value === 'string' && (MODES as readonly string[]).includes(value)) return value as Mode;
  if (typeof value !== 'string') {
    issues.errors.push({
      field,
      message: `must be one of "grant", "observe", "deny", got ${describeType(value)}`,
    });
    return 'observe';
  }
  const lower = value.trim().toLowerCase();
  // own properties only: "constructor" or "__proto__" must not pick up Object.prototype members
  const suggestion = (MODES as readonly string[]).includes(lower)
    ? lower
    : Object.hasOwn(MODE_SYNONYMS, lower)
      ? MODE_SYNONYMS[lower]
      : undefined;
  issues.errors.push({
    field,
    message: `unknown mode ${JSON.stringify(value.slice(0, 64))}; must be one of "grant", "observe", "deny"`,
    ...(suggestion ? { suggestion } : {}),
  });
  return 'observe';
}

function validateBoolean(
  record: Record<string, unknown>,
  field: 'terminateOnDeny' | 'allowCloudProviderTraffic',
  issues: Issues,
): boolean {
  const value = record[field];
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  const suggestion = text === 'true' || text === 'false' ? text : undefined;
  issues.errors.push({
    field,
    message: `must be true or false, got ${describeType(value)}`,
    ...(suggestion ? { suggestion } : {}),
  });
  return false;
}

/** A list field's raw entries, or null after recording why the field itself is unusable. */
function listEntries(
  record: Record<string, unknown>,
  field: 'allowedDomains' | 'allowedPaths' | 'allowedCommands',
  issues: Issues,
  acceptCommaString: boolean,
): unknown[] | null {
  const value = record[field];
  if (value === undefined) return [];
  let entries: unknown[];
  if (Array.isArray(value)) {
    entries = value;
  } else if (acceptCommaString && typeof value === 'string') {
    if (value.length > POLICY_LIMITS.domainsStringMaxLength) {
      issues.errors.push({
        field,
        message: `is ${value.length} characters long; the limit is ${POLICY_LIMITS.domainsStringMaxLength}`,
      });
      return null;
    }
    // An empty or blank string means "no entries", the natural value of an empty form field.
    entries = value.trim() === '' ? [] : value.split(',');
  } else {
    issues.errors.push({
      field,
      message: `must be ${acceptCommaString ? 'a list of strings or one comma-separated string' : 'a list of strings'}, got ${describeType(value)}`,
    });
    return null;
  }
  if (entries.length > POLICY_LIMITS.listMaxEntries) {
    issues.errors.push({
      field,
      message: `has ${entries.length} entries; the limit is ${POLICY_LIMITS.listMaxEntries}`,
    });
    return null;
  }
  return entries;
}

function validateDomains(record: Record<string, unknown>, issues: Issues): string[] {
  const entries = listEntries(record, 'allowedDomains', issues, true);
  if (entries === null) return [];
  const result: string[] = [];
  entries.forEach((raw, index) => {
    const field = `allowedDomains[${index}]`;
    if (typeof raw !== 'string') {
      issues.errors.push({ field, message: `must be a string, got ${describeType(raw)}` });
      return;
    }
    const parsed = parseDomainEntry(raw);
    if (!parsed.ok) {
      issues.errors.push({
        field,
        message: `${JSON.stringify(raw.trim().slice(0, 80))} ${parsed.message}`,
        ...(parsed.suggestion !== undefined ? { suggestion: parsed.suggestion } : {}),
      });
      return;
    }
    const { entry } = parsed.parsed;
    if (result.includes(entry)) {
      issues.warnings.push({
        field,
        message: `duplicates an earlier entry ${JSON.stringify(entry)} and is dropped`,
      });
      return;
    }
    result.push(entry);
    for (const warning of issues.advisor?.domain(parsed.parsed) ?? []) {
      issues.warnings.push({
        field,
        message: `${JSON.stringify(raw.trim().slice(0, 80))} ${warning.message}`,
        ...suggestionOf(warning),
      });
    }
  });
  return result;
}

function validatePaths(record: Record<string, unknown>, issues: Issues): string[] {
  const entries = listEntries(record, 'allowedPaths', issues, false);
  if (entries === null) return [];
  const result: string[] = [];
  entries.forEach((raw, index) => {
    const field = `allowedPaths[${index}]`;
    const text = checkPathLikeString(raw, field, issues);
    if (text === null) return;
    if (!text.startsWith('/')) {
      issues.errors.push({
        field,
        message: `${JSON.stringify(text)} must be an absolute path (starting with '/')`,
      });
      return;
    }
    const normalized = normalizeAbsolutePath(text);
    if (text.split('/').some((segment) => segment === '.' || segment === '..')) {
      issues.errors.push({
        field,
        message: `${JSON.stringify(text)} contains '.' or '..' segments; write the directory it means`,
        suggestion: normalized,
      });
      return;
    }
    if (result.includes(normalized)) {
      issues.warnings.push({
        field,
        message: `duplicates an earlier entry ${JSON.stringify(normalized)} and is dropped`,
      });
      return;
    }
    result.push(normalized);
    const advice = issues.advisor?.path(normalized);
    if (advice)
      issues.warnings.push({ field, ...advice, message: `${JSON.stringify(normalized)} ${advice.message}` });
  });
  return result;
}

function validateCommands(record: Record<string, unknown>, issues: Issues): string[] {
  const entries = listEntries(record, 'allowedCommands', issues, false);
  if (entries === null) return [];
  const result: string[] = [];
  entries.forEach((raw, index) => {
    const field = `allowedCommands[${index}]`;
    const text = checkPathLikeString(raw, field, issues);
    if (text === null) return;
    if (/\s/.test(text)) {
      issues.errors.push({
        field,
        message: `${JSON.stringify(text)} contains whitespace; name the executable only, arguments are not matched`,
        suggestion: text.split(/\s+/, 1)[0]!,
      });
      return;
    }
    let command = text;
    if (text.includes('/')) {
      if (!text.startsWith('/')) {
        issues.errors.push({
          field,
          message: `${JSON.stringify(text)} must be an absolute path or a bare command name (no relative paths)`,
        });
        return;
      }
      command = normalizeAbsolutePath(text);
      if (command === '/') {
        issues.errors.push({ field, message: '"/" is a directory, not an executable' });
        return;
      }
    }
    if (result.includes(command)) {
      issues.warnings.push({
        field,
        message: `duplicates an earlier entry ${JSON.stringify(command)} and is dropped`,
      });
      return;
    }
    result.push(command);
    const advice = issues.advisor?.command(command);
    if (advice)
      issues.warnings.push({ field, ...advice, message: `${JSON.stringify(command)} ${advice.message}` });
  });
  return result;
}

function checkPathLikeString(raw: unknown, field: string, issues: Issues): string | null {
  if (typeof raw !== 'string') {
    issues.errors.push({ field, message: `must be a string, got ${describeType(raw)}` });
    return null;
  }
  const text = raw.trim();
  if (text.length === 0) {
    issues.errors.push({ field, message: 'is empty' });
    return null;
  }
  if (text.length > POLICY_LIMITS.pathMaxLength) {
    issues.errors.push({
      field,
      message: `is ${text.length} characters long; the limit is ${POLICY_LIMITS.pathMaxLength}`,
    });
    return null;
  }
  if (text.includes('\0')) {
    issues.errors.push({ field, message: 'contains a NUL character' });
    return null;
  }
  return text;
}

function suggestionOf(issue: { suggestion?: string }): { suggestion?: string } {
  return issue.suggestion !== undefined ? { suggestion: issue.suggestion } : {};
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 64))}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
