import { describe, expect, it } from 'vitest';
import { PolicyValidationError } from './errors.js';
import { OBSERVE_ALL } from './observe-all.js';
import type { ValidationIssue } from './types.js';
import { POLICY_LIMITS, parsePolicyGroup, validatePolicyGroup } from './validate-policy.js';

const contractExample = {
  name: 'payments-strict',
  description: 'free text for the owner',
  network: 'deny',
  filesystem: 'observe',
  process: 'deny',
  terminateOnDeny: false,
  allowCloudProviderTraffic: false,
  allowedDomains: ['stripe', '*.example.com', 'lambda.*'],
  allowedPaths: ['/tmp/cache/'],
  allowedCommands: ['/usr/bin/git'],
};

function errorsOf(input: unknown): ValidationIssue[] {
  const result = validatePolicyGroup(input);
  if (result.ok) throw new Error(`expected errors, got a valid policy ${JSON.stringify(result.policy)}`);
  return result.errors;
}

describe('validatePolicyGroup: valid groups', () => {
  it('accepts the contract example and normalises it', () => {
    const result = validatePolicyGroup(contractExample);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.policy).toEqual({ ...contractExample, allowedPaths: ['/tmp/cache'] });
    // stripe (contains) and lambda.* (starts-with) are weak; *.example.com is not.
    expect(result.warnings.map((warning) => warning.field)).toEqual([
      'allowedDomains[0]',
      'allowedDomains[2]',
    ]);
  });

  it('defaults missing modes to observe, booleans to false and lists to empty', () => {
    const result = validatePolicyGroup({ name: 'minimal' });
    expect(result).toEqual({
      ok: true,
      warnings: [],
      policy: {
        name: 'minimal',
        description: '',
        network: 'observe',
        filesystem: 'observe',
        process: 'observe',
        terminateOnDeny: false,
        allowCloudProviderTraffic: false,
        allowedDomains: [],
        allowedPaths: [],
        allowedCommands: [],
      },
    });
  });

  it.each([
    ['a list', ['Stripe.com.', '*.EXAMPLE.com', 'stripe.com'], ['stripe.com', '*.example.com']],
    ['a comma-separated string', ' Stripe.com. ,*.EXAMPLE.com,stripe.com ', ['stripe.com', '*.example.com']],
    ['an empty string', '', []],
    ['a blank string', '   ', []],
    ['IDN and numeric forms', ['bücher.de', '0x7f000001'], ['xn--bcher-kva.de', '127.0.0.1']],
  ])(
    'normalises allowedDomains given as %s (trim, lowercase, no trailing dot, dedupe)',
    (_label, allowedDomains, expected) => {
      const result = validatePolicyGroup({ name: 'p', allowedDomains });
      expect(result.ok && result.policy.allowedDomains).toEqual(expected);
    },
  );

  it('warns about a dropped duplicate, naming its index', () => {
    const result = validatePolicyGroup({ name: 'p', allowedDomains: ['.a.com', '.A.com.'] });
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ field: 'allowedDomains[1]', message: expect.stringContaining('duplicates') }),
    );
  });

  it('warns about a weak entry with a safer suggestion', () => {
    const result = validatePolicyGroup({ name: 'p', network: 'deny', allowedDomains: 'amazonaws.com' });
    expect(result.ok).toBe(true);
    expect(result.warnings[0]).toEqual({
      field: 'allowedDomains[0]',
      message: expect.stringContaining('amazonaws.com.evil.example'),
      suggestion: '.amazonaws.com',
    });
  });

  it.each([
    ['netwrk', 'network'],
    ['AllowedDomains', 'allowedDomains'],
    ['allowedDomain', 'allowedDomains'],
    ['terminateOnDney', 'terminateOnDeny'],
    ['version', undefined],
  ])('warns about the unknown field %s (suggesting %s) without refusing', (field, suggestion) => {
    const result = validatePolicyGroup({ name: 'p', [field]: 'x' });
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      { field, message: 'is not a policy group field and is ignored', ...(suggestion ? { suggestion } : {}) },
    ]);
  });

  it.each([
    ['allowedPaths', ['/tmp/cache/', '//tmp//cache'], ['/tmp/cache']],
    ['allowedPaths', ['/var/task/data/'], ['/var/task/data']],
    ['allowedCommands', ['/usr/bin//git', 'git', '/usr/bin/git'], ['/usr/bin/git', 'git']],
  ])('normalises %s', (field, value, expected) => {
    const result = validatePolicyGroup({ name: 'p', [field]: value });
    expect(result.ok && result.policy[field as 'allowedPaths']).toEqual(expected);
  });

  it.each([
    ['allowedPaths', ['/'], 'grants every path'],
    ['allowedPaths', ['/tmp/'], 'grants every /tmp path'],
    ['allowedCommands', ['git'], 'in any directory'],
    ['allowedCommands', ['/bin/sh'], 'allows every command'],
    ['allowedCommands', ['bash'], 'allows every command'],
  ])('warns about %s %j', (field, value, message) => {
    const result = validatePolicyGroup({ name: 'p', [field]: value });
    expect(result.ok).toBe(true);
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ field: `${field}[0]`, message: expect.stringContaining(message) }),
    );
  });

  it('accepts the limits exactly', () => {
    const result = validatePolicyGroup({
      name: 'n'.repeat(POLICY_LIMITS.nameMaxLength),
      description: 'd'.repeat(POLICY_LIMITS.descriptionMaxLength),
      allowedDomains: Array.from(
        { length: POLICY_LIMITS.listMaxEntries },
        (_, index) => `.host${index}.example.com`,
      ),
      allowedPaths: [`/tmp/${'p'.repeat(POLICY_LIMITS.pathMaxLength - 5)}`],
    });
    expect(result.ok).toBe(true);
  });
});

describe('validatePolicyGroup: each kind of bad input gets its named error', () => {
  it.each([
    [null, '', 'must be a JSON object, got null'],
    [[], '', 'must be a JSON object, got a list'],
    ['{"name":"x"}', '', 'must be a JSON object, got the string'],
    [{}, 'name', 'is required'],
    [{ name: '' }, 'name', 'must not be empty'],
    [{ name: '   ' }, 'name', 'must not be empty'],
    [{ name: 7 }, 'name', 'must be a string, got number 7'],
    [{ name: 'n'.repeat(POLICY_LIMITS.nameMaxLength + 1) }, 'name', 'the limit is 128'],
    [{ name: 'has space' }, 'name', 'may only contain'],
    [{ name: '../etc' }, 'name', 'may only contain'],
    [{ name: 'p', description: 5 }, 'description', 'must be a string'],
    [
      { name: 'p', description: 'd'.repeat(POLICY_LIMITS.descriptionMaxLength + 1) },
      'description',
      'the limit is 1024',
    ],
    [{ name: 'p', network: 'block' }, 'network', 'unknown mode "block"'],
    [{ name: 'p', filesystem: 'Observe' }, 'filesystem', 'unknown mode "Observe"'],
    [{ name: 'p', process: true }, 'process', 'must be one of "grant", "observe", "deny", got boolean true'],
    [{ name: 'p', network: null }, 'network', 'got null'],
    [{ name: 'p', terminateOnDeny: 'true' }, 'terminateOnDeny', 'must be true or false'],
    [
      { name: 'p', allowCloudProviderTraffic: 1 },
      'allowCloudProviderTraffic',
      'must be true or false, got number 1',
    ],
    [{ name: 'p', allowedDomains: 5 }, 'allowedDomains', 'a list of strings or one comma-separated string'],
    [{ name: 'p', allowedDomains: { a: 1 } }, 'allowedDomains', 'got an object'],
    [{ name: 'p', allowedDomains: [5] }, 'allowedDomains[0]', 'must be a string, got number 5'],
    [{ name: 'p', allowedDomains: ['ok.com', ''] }, 'allowedDomains[1]', 'is empty'],
    [{ name: 'p', allowedDomains: 'a.com,,b.com' }, 'allowedDomains[1]', 'is empty'],
    [{ name: 'p', allowedDomains: ['has space.com'] }, 'allowedDomains[0]', 'whitespace'],
    [{ name: 'p', allowedDomains: ['https://x.com'] }, 'allowedDomains[0]', 'is a URL'],
    [{ name: 'p', allowedDomains: ['x.com/path'] }, 'allowedDomains[0]', 'contains a path'],
    [{ name: 'p', allowedDomains: ['x.com:443'] }, 'allowedDomains[0]', 'contains a port'],
    [{ name: 'p', allowedDomains: ['*'] }, 'allowedDomains[0]', 'matches every host'],
    [{ name: 'p', allowedDomains: ['*.'] }, 'allowedDomains[0]', 'matches every host'],
    [{ name: 'p', allowedDomains: ['a*b.com'] }, 'allowedDomains[0]', "'*' is only allowed"],
    [{ name: 'p', allowedDomains: ['a'.repeat(300)] }, 'allowedDomains[0]', 'longer than 253'],
    [
      { name: 'p', allowedDomains: Array.from({ length: 257 }, () => 'a.com') },
      'allowedDomains',
      'the limit is 256',
    ],
    [{ name: 'p', allowedDomains: 'a,'.repeat(40_000) }, 'allowedDomains', 'the limit is 65536'],
    [{ name: 'p', allowedPaths: '/tmp' }, 'allowedPaths', 'must be a list of strings, got the string'],
    [{ name: 'p', allowedPaths: [''] }, 'allowedPaths[0]', 'is empty'],
    [{ name: 'p', allowedPaths: ['tmp/cache'] }, 'allowedPaths[0]', 'must be an absolute path'],
    [{ name: 'p', allowedPaths: ['/tmp/../etc'] }, 'allowedPaths[0]', "contains '.' or '..' segments"],
    [{ name: 'p', allowedPaths: ['/tmp/\u0000x'] }, 'allowedPaths[0]', 'NUL'],
    [{ name: 'p', allowedPaths: [`/${'p'.repeat(4096)}`] }, 'allowedPaths[0]', 'the limit is 4096'],
    [{ name: 'p', allowedCommands: [null] }, 'allowedCommands[0]', 'must be a string, got null'],
    [{ name: 'p', allowedCommands: ['git status'] }, 'allowedCommands[0]', 'arguments are not matched'],
    [
      { name: 'p', allowedCommands: ['./bin/tool'] },
      'allowedCommands[0]',
      'absolute path or a bare command name',
    ],
    [{ name: 'p', allowedCommands: ['/'] }, 'allowedCommands[0]', 'is a directory'],
  ])('%j -> %s: %s', (input, field, message) => {
    const errors = errorsOf(input);
    expect(errors).toContainEqual(
      expect.objectContaining({ field, message: expect.stringContaining(message) }),
    );
  });

  it.each([
    [{ name: 'p', network: 'Deny' }, 'network', 'deny'],
    [{ name: 'p', network: 'block' }, 'network', 'deny'],
    [{ name: 'p', network: 'allow' }, 'network', 'grant'],
    [{ name: 'p', process: 'monitor' }, 'process', 'observe'],
    [{ name: 'p', terminateOnDeny: 'false' }, 'terminateOnDeny', 'false'],
    [{ name: 'p', allowedDomains: ['https://api.stripe.com/v1'] }, 'allowedDomains[0]', 'api.stripe.com'],
    [{ name: 'p', allowedPaths: ['/tmp/a/../b'] }, 'allowedPaths[0]', '/tmp/b'],
    [{ name: 'p', allowedCommands: ['git status'] }, 'allowedCommands[0]', 'git'],
    [{ name: 'pay ments' }, 'name', 'pay-ments'],
  ])('%j suggests a fix for %s', (input, field, suggestion) => {
    expect(errorsOf(input)).toContainEqual(expect.objectContaining({ field, suggestion }));
  });

  it('returns exactly ok, errors and warnings when refusing', () => {
    expect(Object.keys(validatePolicyGroup(null)).sort()).toEqual(['errors', 'ok', 'warnings']);
    expect(Object.keys(validatePolicyGroup({})).sort()).toEqual(['errors', 'ok', 'warnings']);
  });

  it('reports every problem at once, not only the first', () => {
    const errors = errorsOf({
      name: '',
      network: 'nope',
      filesystem: 3,
      allowedDomains: ['*', 'https://a'],
      allowedPaths: ['rel'],
    });
    expect(errors.map((error) => error.field)).toEqual([
      'name',
      'network',
      'filesystem',
      'allowedDomains[0]',
      'allowedDomains[1]',
      'allowedPaths[0]',
    ]);
  });
});

describe('parsePolicyGroup', () => {
  it('returns the normalised policy', () => {
    expect(parsePolicyGroup({ name: 'p', network: 'deny' }).network).toBe('deny');
  });

  it('returns the same policy as validatePolicyGroup, though it skips the weak-entry advice', () => {
    const input = {
      name: 'p',
      allowedDomains: 'Stripe, amazonaws.com, *.com, 127.1',
      allowedPaths: ['/', '/tmp/a/'],
      allowedCommands: ['git', '/bin/sh'],
      netwrk: 'deny',
    };
    const validated = validatePolicyGroup(input);
    expect(validated.ok && validated.warnings.length).toBeGreaterThan(5);
    expect(validated.ok && validated.policy).toEqual(parsePolicyGroup(input));
  });

  it('throws PolicyValidationError with code ERR_INVALID_POLICY and every error', () => {
    let thrown: unknown;
    try {
      parsePolicyGroup({ name: '', network: 'block' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PolicyValidationError);
    const error = thrown as PolicyValidationError;
    expect(error.code).toBe('ERR_INVALID_POLICY');
    expect(error.errors.map((issue) => issue.field)).toEqual(['name', 'network']);
    expect(error.message).toContain('name: must not be empty');
    expect(error.message).toContain('network: unknown mode "block"');
  });
});

describe('mode suggestions', () => {
  it('suggests a mode for a known synonym but never an Object.prototype member', () => {
    for (const mode of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const result = validatePolicyGroup({ name: 'p', network: mode });
      expect(result.ok).toBe(false);
      const issue = result.ok ? undefined : result.errors.find((e) => e.field === 'network');
      expect(issue?.message).toContain('unknown mode');
      expect(issue?.suggestion).toBeUndefined();
    }
    const typo = validatePolicyGroup({ name: 'p', network: 'Observe' });
    expect(typo.ok ? undefined : typo.errors[0]?.suggestion).toBe('observe');
  });
});

describe('OBSERVE_ALL', () => {
  it('is the valid, frozen public group that observes all three categories', () => {
    expect(OBSERVE_ALL.name).toBe('observeAll.ability');
    expect([OBSERVE_ALL.network, OBSERVE_ALL.filesystem, OBSERVE_ALL.process]).toEqual([
      'observe',
      'observe',
      'observe',
    ]);
    expect(parsePolicyGroup({ ...OBSERVE_ALL })).toEqual(OBSERVE_ALL);
    expect(Object.isFrozen(OBSERVE_ALL)).toBe(true);
    expect(Object.isFrozen(OBSERVE_ALL.allowedDomains)).toBe(true);
  });
});
