/**
 * Events (contract §2): how the agent describes an observed or denied operation, and how the control
 * plane checks one that arrives over the wire.
 */
import type {
  AgentEvent,
  Category,
  CreateEventInput,
  EventValidationResult,
  Operation,
  ValidationIssue,
} from './types.js';
import { uuidv7 } from './uuidv7.js';

/** Limits on event fields, enforced by validateEvent and documented in the README. */
export const EVENT_LIMITS = Object.freeze({
  /** describeTarget truncates longer targets (a command line with a huge argument) and marks the cut. */
  describedTargetMaxLength: 2048,
  targetMaxLength: 4096,
  policyGroupMaxLength: 128,
  operationMaxLength: 32,
  /** function, functionVersion, requestId, runtime, region, agentVersion, rule, module name/version. */
  shortStringMaxLength: 256,
  reasonMaxLength: 1024,
  stackMaxFrames: 64,
  stackFrameMaxLength: 1024,
  /** details, serialised as JSON (characters). */
  detailsMaxBytes: 16_384,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const OPERATION = /^[a-z][a-zA-Z0-9_-]*$/;
const SAFE_ARG = /^[A-Za-z0-9_\-./=:,@%+]+$/;
const CATEGORIES: readonly Category[] = ['network', 'filesystem', 'process'];
const PROVIDERS = ['aws', 'gcp', 'azure', 'local'];
const SHORT_STRING_FIELDS = [
  'function',
  'functionVersion',
  'requestId',
  'runtime',
  'region',
  'agentVersion',
  'rule',
] as const;

/**
 * The event `target` of an operation (contract §2): `host:port` (`[v6]:port`) for network, the host for
 * dns, the path for filesystem, the command line (arguments shell-quoted where needed) for process.
 * @example describeTarget({ category: 'network', operation: 'connect', host: 'api.evil.example', port: 443 }) // 'api.evil.example:443'
 * @example describeTarget({ category: 'process', operation: 'spawn', command: 'git', args: ['commit', '-m', 'a b'] }) // "git commit -m 'a b'"
 */
export function describeTarget(op: Operation): string {
  let target: string;
  switch (op.category) {
    case 'network':
      if (op.operation === 'dns') {
        target = op.host;
      } else if (op.protocol === 'pipe') {
        target = op.path ?? op.host ?? '';
      } else {
        const raw = op.host ?? op.ip ?? '';
        const host = raw.includes(':') && !raw.startsWith('[') ? `[${raw}]` : raw;
        target = op.port === undefined ? host : `${host}:${op.port}`;
      }
      break;
    case 'filesystem':
      target = op.path;
      break;
    case 'process':
      target = [op.command, ...(op.args ?? [])].map(shellQuote).join(' ');
      break;
  }
  const max = EVENT_LIMITS.describedTargetMaxLength;
  return target.length > max ? `${target.slice(0, max - 1)}…` : target;
}

function shellQuote(arg: string): string {
  const text = String(arg);
  if (SAFE_ARG.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Builds the event for an observe or deny decision. Extra fields (function, requestId, module, stack, …)
 * are copied when given; `id` is a fresh UUIDv7 and `time` is now unless supplied.
 * @example createEvent({ op, decision, policyGroup: 'payments-strict', function: 'checkout' })
 */
export function createEvent(input: CreateEventInput): AgentEvent {
  const { op, decision, policyGroup, terminated, now, ...extra } = input;
  const date = now ?? new Date();
  const event: AgentEvent = {
    id: uuidv7(date.getTime()),
    time: date.toISOString(),
    category: op.category,
    action: decision.verdict,
    operation: op.operation,
    target: describeTarget(op),
    terminated: terminated ?? false,
    policyGroup,
    rule: decision.rule,
    reason: decision.reason,
  };
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) (event as unknown as Record<string, unknown>)[key] = value;
  }
  // What happened is fixed by the operation and the decision, never by the extras.
  event.category = op.category;
  event.action = decision.verdict;
  return event;
}

/**
 * Checks an event received over the wire (the server's ingest). Returns a clean event with only known
 * fields (unknown ones are dropped), `time` in canonical ISO form and the id in lowercase, or every problem.
 */
export function validateEvent(input: unknown): EventValidationResult {
  const errors: ValidationIssue[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '', message: 'an event must be a JSON object' }] };
  }
  const record = input as Record<string, unknown>;
  const text = (field: string, max: number, required: boolean): string | undefined => {
    const value = record[field];
    if (value === undefined) {
      if (required) errors.push({ field, message: 'is required' });
      return undefined;
    }
    if (typeof value !== 'string') {
      errors.push({ field, message: `must be a string, got ${value === null ? 'null' : typeof value}` });
      return undefined;
    }
    if (required && value.length === 0) errors.push({ field, message: 'must not be empty' });
    if (value.length > max)
      errors.push({ field, message: `is ${value.length} characters long; the limit is ${max}` });
    return value;
  };

  const id = text('id', 36, true);
  if (id !== undefined && id.length > 0 && !UUID.test(id))
    errors.push({ field: 'id', message: 'must be a UUID' });
  const time = text('time', 40, true);
  let isoTime: string | undefined;
  if (time !== undefined && time.length > 0) {
    const ms = ISO_TIME.test(time) ? Date.parse(time) : Number.NaN;
    if (Number.isNaN(ms))
      errors.push({
        field: 'time',
        message: 'must be an ISO 8601 date-time such as 2026-11-24T18:00:00.000Z',
      });
    else isoTime = new Date(ms).toISOString();
  }
  const category = record['category'];
  if (!CATEGORIES.includes(category as Category)) {
    errors.push({ field: 'category', message: 'must be one of "network", "filesystem", "process"' });
  }
  const action = record['action'];
  if (action !== 'observe' && action !== 'deny') {
    errors.push({
      field: 'action',
      message:
        action === 'grant'
          ? 'grants make no events; must be "observe" or "deny"'
          : 'must be "observe" or "deny"',
    });
  }
  const operation = text('operation', EVENT_LIMITS.operationMaxLength, true);
  if (operation !== undefined && operation.length > 0 && !OPERATION.test(operation)) {
    errors.push({ field: 'operation', message: 'must be a word such as "connect", "dns", "read", "spawn"' });
  }
  const target = text('target', EVENT_LIMITS.targetMaxLength, true);
  const terminated = record['terminated'];
  if (typeof terminated !== 'boolean') errors.push({ field: 'terminated', message: 'must be true or false' });
  const policyGroup = text('policyGroup', EVENT_LIMITS.policyGroupMaxLength, true);

  const optional: Partial<AgentEvent> = {};
  for (const field of SHORT_STRING_FIELDS) {
    const value = text(field, EVENT_LIMITS.shortStringMaxLength, false);
    if (value !== undefined) optional[field] = value;
  }
  const reason = text('reason', EVENT_LIMITS.reasonMaxLength, false);
  if (reason !== undefined) optional.reason = reason;
  const provider = record['provider'];
  if (provider !== undefined) {
    if (typeof provider === 'string' && PROVIDERS.includes(provider)) optional.provider = provider;
    else
      errors.push({
        field: 'provider',
        message: `must be one of ${PROVIDERS.map((p) => `"${p}"`).join(', ')}`,
      });
  }
  const count = record['count'];
  if (count !== undefined) {
    if (typeof count === 'number' && Number.isSafeInteger(count) && count >= 1) optional.count = count;
    else errors.push({ field: 'count', message: 'must be a positive integer' });
  }
  const module = record['module'];
  if (module !== undefined) {
    const name = (module as { name?: unknown } | null)?.name;
    const version = (module as { version?: unknown } | null)?.version;
    if (typeof module !== 'object' || module === null || typeof name !== 'string' || name.length === 0) {
      errors.push({ field: 'module', message: 'must be an object with a non-empty string "name"' });
    } else if (name.length > EVENT_LIMITS.shortStringMaxLength) {
      errors.push({
        field: 'module.name',
        message: `is longer than ${EVENT_LIMITS.shortStringMaxLength} characters`,
      });
    } else if (
      version !== undefined &&
      (typeof version !== 'string' || version.length > EVENT_LIMITS.shortStringMaxLength)
    ) {
      errors.push({
        field: 'module.version',
        message: `must be a string of at most ${EVENT_LIMITS.shortStringMaxLength} characters`,
      });
    } else {
      optional.module = version === undefined ? { name } : { name, version };
    }
  }
  const stack = record['stack'];
  if (stack !== undefined) {
    if (!Array.isArray(stack) || stack.length > EVENT_LIMITS.stackMaxFrames) {
      errors.push({
        field: 'stack',
        message: `must be a list of at most ${EVENT_LIMITS.stackMaxFrames} strings`,
      });
    } else {
      const bad = stack.findIndex(
        (frame) => typeof frame !== 'string' || frame.length > EVENT_LIMITS.stackFrameMaxLength,
      );
      if (bad !== -1) {
        errors.push({
          field: `stack[${bad}]`,
          message: `must be a string of at most ${EVENT_LIMITS.stackFrameMaxLength} characters`,
        });
      } else {
        optional.stack = stack as string[];
      }
    }
  }
  const details = record['details'];
  if (details !== undefined) {
    if (typeof details !== 'object' || details === null || Array.isArray(details)) {
      errors.push({ field: 'details', message: 'must be an object' });
    } else {
      let size = Number.POSITIVE_INFINITY;
      try {
        size = JSON.stringify(details).length;
      } catch {
        // Not serialisable (cycles, BigInt): rejected below like an oversized value.
      }
      if (size > EVENT_LIMITS.detailsMaxBytes) {
        errors.push({
          field: 'details',
          message: `must serialise to at most ${EVENT_LIMITS.detailsMaxBytes} characters of JSON`,
        });
      } else {
        optional.details = details as Record<string, unknown>;
      }
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    event: {
      id: id!.toLowerCase(),
      time: isoTime!,
      category: category as Category,
      action: action as 'observe' | 'deny',
      operation: operation!,
      target: target!,
      terminated: terminated as boolean,
      policyGroup: policyGroup!,
      ...optional,
    },
  };
}
