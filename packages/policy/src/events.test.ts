import { describe, expect, it } from 'vitest';
import { createEvent, describeTarget, EVENT_LIMITS, validateEvent } from './events.js';
import type { NonGrantDecision, Operation } from './types.js';
import { uuidv7 } from './uuidv7.js';

describe('describeTarget (contract §2)', () => {
  it.each<[Operation, string]>([
    [
      { category: 'network', operation: 'connect', host: 'api.evil.example', port: 443 },
      'api.evil.example:443',
    ],
    [{ category: 'network', operation: 'connect', ip: '203.0.113.7', port: 80 }, '203.0.113.7:80'],
    [
      { category: 'network', operation: 'connect', host: 'api.evil.example', ip: '203.0.113.7', port: 443 },
      'api.evil.example:443',
    ],
    [{ category: 'network', operation: 'connect', host: '::1', port: 443 }, '[::1]:443'],
    [{ category: 'network', operation: 'connect', host: '[::1]', port: 443 }, '[::1]:443'],
    [{ category: 'network', operation: 'send', host: '8.8.8.8', port: 53, protocol: 'udp' }, '8.8.8.8:53'],
    [{ category: 'network', operation: 'connect', host: 'no-port.example' }, 'no-port.example'],
    [{ category: 'network', operation: 'connect', protocol: 'pipe', path: '/tmp/app.sock' }, '/tmp/app.sock'],
    [{ category: 'network', operation: 'dns', host: 'api.evil.example', rrtype: 'A' }, 'api.evil.example'],
    [{ category: 'filesystem', operation: 'read', path: '/var/task/.env' }, '/var/task/.env'],
    [
      { category: 'process', operation: 'spawn', command: '/usr/bin/git', args: ['status', '--short'] },
      '/usr/bin/git status --short',
    ],
    [
      { category: 'process', operation: 'spawn', command: 'sh', args: ['-c', "echo 'hi' there"] },
      `sh -c 'echo '\\''hi'\\'' there'`,
    ],
    [{ category: 'process', operation: 'spawn', command: 'ls', args: [''] }, "ls ''"],
    [{ category: 'process', operation: 'load', command: '/var/task/addon.node' }, '/var/task/addon.node'],
  ])('%j -> %s', (op, expected) => {
    expect(describeTarget(op)).toBe(expected);
  });

  it('truncates a huge command line and marks the cut', () => {
    const target = describeTarget({
      category: 'process',
      operation: 'spawn',
      command: 'node',
      args: ['-e', 'x'.repeat(10_000)],
    });
    expect(target).toHaveLength(EVENT_LIMITS.describedTargetMaxLength);
    expect(target.endsWith('…')).toBe(true);
  });
});

describe('createEvent', () => {
  const op: Operation = { category: 'network', operation: 'connect', host: 'api.evil.example', port: 443 };
  const decision: NonGrantDecision = { verdict: 'deny', rule: 'mode', reason: 'network mode is "deny"' };

  it('builds the contract event with a UUIDv7 id and ISO time', () => {
    const now = new Date('2026-11-24T18:00:00.000Z');
    const event = createEvent({ op, decision, policyGroup: 'payments-strict', now });
    expect(event).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      time: '2026-11-24T18:00:00.000Z',
      category: 'network',
      action: 'deny',
      operation: 'connect',
      target: 'api.evil.example:443',
      terminated: false,
      policyGroup: 'payments-strict',
      rule: 'mode',
      reason: 'network mode is "deny"',
    });
    expect(Number.parseInt(event.id.replace(/-/g, '').slice(0, 12), 16)).toBe(now.getTime());
    expect(validateEvent(event)).toEqual({ ok: true, event });
  });

  it('copies extra fields, but never lets them contradict the operation or decision', () => {
    const event = createEvent({
      op,
      decision: { verdict: 'observe', rule: 'mode', reason: 'r' },
      policyGroup: 'p',
      terminated: true,
      function: 'checkout',
      requestId: 'req-1',
      module: { name: 'axios', version: '1.7.0' },
      category: 'process',
      action: 'deny',
      count: undefined,
    });
    expect(event).toMatchObject({
      category: 'network',
      action: 'observe',
      terminated: true,
      function: 'checkout',
      requestId: 'req-1',
    });
    expect(event.module).toEqual({ name: 'axios', version: '1.7.0' });
    expect('count' in event).toBe(false);
  });
});

describe('uuidv7', () => {
  it('is time-ordered and strictly increasing within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_800_000_000_000));
    const sorted = [...ids].sort();
    expect(ids).toEqual(sorted);
    expect(new Set(ids).size).toBe(ids.length);
    expect(uuidv7(1_800_000_000_001) > ids[0]!).toBe(true);
  });

  it('does not go backwards when the clock does', () => {
    const later = uuidv7(1_900_000_000_000);
    expect(uuidv7(1_000) > later).toBe(true);
  });

  it('has version 7 and the RFC 9562 variant', () => {
    const id = uuidv7();
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
  });

  it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY]])('refuses the time %j', (now) => {
    expect(() => uuidv7(now)).toThrow(/non-negative time/);
  });
});

describe('validateEvent', () => {
  const valid = {
    id: '0192F3A4-5B6C-7D8E-9F01-23456789ABCD',
    time: '2026-11-24T19:00:00+01:00',
    category: 'network',
    action: 'deny',
    operation: 'connect',
    target: 'api.evil.example:443',
    terminated: false,
    policyGroup: 'payments-strict',
  };

  it('accepts the contract event, normalising id and time and dropping unknown fields', () => {
    const result = validateEvent({
      ...valid,
      count: 3,
      stack: ['a.js:1:2 fn'],
      details: { url: 'x' },
      provider: 'aws',
      extra: 1,
    });
    expect(result).toEqual({
      ok: true,
      event: {
        ...valid,
        id: valid.id.toLowerCase(),
        time: '2026-11-24T18:00:00.000Z',
        count: 3,
        stack: ['a.js:1:2 fn'],
        details: { url: 'x' },
        provider: 'aws',
      },
    });
  });

  const huge: Record<string, unknown> = { data: 'x'.repeat(EVENT_LIMITS.detailsMaxBytes) };
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;

  it.each<[string, unknown, string, string]>([
    ['not an object', 'event', '', 'must be a JSON object'],
    ['missing id', { ...valid, id: undefined }, 'id', 'is required'],
    ['bad id', { ...valid, id: 'abc' }, 'id', 'must be a UUID'],
    ['bad time', { ...valid, time: 'yesterday' }, 'time', 'ISO 8601'],
    ['impossible time', { ...valid, time: '2026-13-45T99:00:00Z' }, 'time', 'ISO 8601'],
    ['bad category', { ...valid, category: 'clock' }, 'category', 'must be one of'],
    ['grant action', { ...valid, action: 'grant' }, 'action', 'grants make no events'],
    ['bad operation', { ...valid, operation: 'DROP TABLE' }, 'operation', 'must be a word'],
    [
      'long target',
      { ...valid, target: 'x'.repeat(EVENT_LIMITS.targetMaxLength + 1) },
      'target',
      'the limit is 4096',
    ],
    ['empty target', { ...valid, target: '' }, 'target', 'must not be empty'],
    ['terminated not boolean', { ...valid, terminated: 'no' }, 'terminated', 'must be true or false'],
    ['missing policyGroup', { ...valid, policyGroup: undefined }, 'policyGroup', 'is required'],
    ['count zero', { ...valid, count: 0 }, 'count', 'positive integer'],
    ['bad provider', { ...valid, provider: 'oracle' }, 'provider', 'must be one of'],
    ['module without name', { ...valid, module: { version: '1' } }, 'module', 'non-empty string "name"'],
    [
      'module version not string',
      { ...valid, module: { name: 'a', version: 1 } },
      'module.version',
      'must be a string',
    ],
    ['stack not list', { ...valid, stack: 'a' }, 'stack', 'must be a list'],
    ['stack frame not string', { ...valid, stack: ['a', 3] }, 'stack[1]', 'must be a string'],
    ['details list', { ...valid, details: [] }, 'details', 'must be an object'],
    ['details too big', { ...valid, details: huge }, 'details', 'at most 16384'],
    ['details cyclic', { ...valid, details: cyclic }, 'details', 'at most 16384'],
    ['function not string', { ...valid, function: 5 }, 'function', 'must be a string'],
  ])('%s -> %s: %s', (_label, input, field, message) => {
    const result = validateEvent(input);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors).toContainEqual({ field, message: expect.stringContaining(message) });
  });
});
