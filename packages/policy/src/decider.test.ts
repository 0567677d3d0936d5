import { describe, expect, it } from 'vitest';
import { createDecider } from './decider.js';
import { IpNameTable } from './ip-name-table.js';
import type { DeciderOptions, Decision, Operation } from './types.js';
import { parsePolicyGroup } from './validate-policy.js';

const connect = (host: string, port = 443): Operation => ({
  category: 'network',
  operation: 'connect',
  host,
  port,
});
const dns = (host: string): Operation => ({ category: 'network', operation: 'dns', host });
const read = (path: string): Operation => ({ category: 'filesystem', operation: 'read', path });
const write = (path: string): Operation => ({ category: 'filesystem', operation: 'write', path });
const spawn = (command: string, args: string[] = []): Operation => ({
  category: 'process',
  operation: 'spawn',
  command,
  args,
});

function deciderFor(policy: Record<string, unknown>, options: Partial<DeciderOptions> = {}) {
  return createDecider(parsePolicyGroup({ name: 'test', ...policy }), {
    appDirs: ['/var/task'],
    provider: null,
    ...options,
  });
}

const verdictOf = (decision: Decision) => `${decision.verdict}:${decision.rule}`;

describe('modes', () => {
  it.each([
    [{ network: 'grant' }, connect('evil.example'), 'grant:mode'],
    [{ network: 'observe' }, connect('evil.example'), 'observe:mode'],
    [{ network: 'deny' }, connect('evil.example'), 'deny:mode'],
    [{}, connect('evil.example'), 'observe:mode'],
    [{ filesystem: 'grant' }, write('/tmp/x'), 'grant:mode'],
    [{ filesystem: 'observe' }, write('/tmp/x'), 'observe:mode'],
    [{ filesystem: 'deny' }, read('/var/task/secret'), 'deny:mode'],
    [{}, read('/tmp/x'), 'observe:mode'],
    [{ process: 'grant' }, spawn('/bin/ls'), 'grant:mode'],
    [{ process: 'observe' }, spawn('/bin/ls'), 'observe:mode'],
    [{ process: 'deny' }, spawn('/bin/ls'), 'deny:mode'],
    [{}, spawn('/bin/ls'), 'observe:mode'],
  ])('%j: %j -> %s', (policy, op, expected) => {
    expect(verdictOf(deciderFor(policy).decide(op))).toBe(expected);
  });

  it('gives every observe or deny decision a reason naming the category, mode and target', () => {
    const decision = deciderFor({ network: 'deny' }).decide(connect('api.evil.example'));
    expect(decision).toEqual({
      verdict: 'deny',
      rule: 'mode',
      reason: 'network mode is "deny": api.evil.example matches no allowed domain',
    });
  });
});

describe('network: allowedDomains by name', () => {
  const policy = {
    network: 'deny',
    allowedDomains: ['stripe', '*.example.com', 'lambda.*', '.exact.org', '203.0.113.7'],
  };
  it.each([
    [connect('api.stripe.com'), 'grant:allowedDomains'],
    [connect('API.STRIPE.COM.'), 'grant:allowedDomains'],
    [connect('www.example.com'), 'grant:allowedDomains'],
    [connect('example.com'), 'deny:mode'],
    [connect('lambda.us-east-1.amazonaws.com'), 'grant:allowedDomains'],
    [connect('exact.org'), 'grant:allowedDomains'],
    [connect('sub.exact.org'), 'grant:allowedDomains'],
    [connect('notexact.org'), 'deny:mode'],
    [connect('evil.example'), 'deny:mode'],
    [dns('api.stripe.com'), 'grant:allowedDomains'],
    [dns('evil.example'), 'deny:mode'],
    [
      { category: 'network', operation: 'send', host: 'api.stripe.com', port: 53, protocol: 'udp' },
      'grant:allowedDomains',
    ],
    // an IP entry allows that address, in any spelling
    [connect('203.0.113.7'), 'grant:allowedDomains'],
    [connect('3405803783'), 'grant:allowedDomains'],
    [connect('[::ffff:cb00:7107]'), 'grant:allowedDomains'],
    [connect('203.0.113.8'), 'deny:mode'],
  ] as Array<[Operation, string]>)('%j -> %s', (op, expected) => {
    expect(verdictOf(deciderFor(policy).decide(op))).toBe(expected);
  });

  it('grants allowed domains silently in observe mode too, so observe reports what deny would block', () => {
    const decider = deciderFor({ network: 'observe', allowedDomains: ['.stripe.com'] });
    expect(verdictOf(decider.decide(connect('api.stripe.com')))).toBe('grant:allowedDomains');
    expect(verdictOf(decider.decide(connect('evil.example')))).toBe('observe:mode');
  });

  it.each([
    ['1.2', '1.2.3.4'],
    ['2.3', '1.2.3.4'],
    ['ffff', '2001:db8::ffff:1'],
    ['example', '93.184.216.34'],
    ['0', '10.0.0.1'],
  ])('entry %s does not allow the IP literal %s by substring', (entry, ip) => {
    expect(verdictOf(deciderFor({ network: 'deny', allowedDomains: [entry] }).decide(connect(ip)))).toBe(
      'deny:mode',
    );
  });

  it.each([['2130706433'], ['0x7f000001'], ['0177.0.0.1'], ['127.1'], ['[::ffff:7f00:1]'], ['localhost.']])(
    'numeric alias %s is judged as the address it is, not as a name',
    (host) => {
      const decider = deciderFor({ network: 'deny', allowedDomains: ['0x7f', '2130706433x', 'localhost'] });
      const expected = host === 'localhost.' ? 'grant:allowedDomains' : 'deny:mode';
      expect(verdictOf(decider.decide(connect(host)))).toBe(expected);
    },
  );

  it.each([
    ['evil.com#.stripe.com'],
    ['evil.com/.stripe.com'],
    ['stripe.com@evil.com'],
    [''],
    ['a..stripe.com'],
  ])('an invalid host %j is never granted by allowedDomains', (host) => {
    const decision = deciderFor({ network: 'deny', allowedDomains: ['stripe'] }).decide(connect(host));
    expect(decision).toMatchObject({
      verdict: 'deny',
      rule: 'mode',
      reason: expect.stringContaining('is not a valid host name'),
    });
  });

  it('judges an operation that names no destination by the mode', () => {
    const decision = deciderFor({ network: 'deny' }).decide({
      category: 'network',
      operation: 'connect',
      port: 443,
    });
    expect(decision).toMatchObject({
      verdict: 'deny',
      reason: expect.stringContaining('names no destination'),
    });
  });
});

describe('network: IP addresses through the IP-name table', () => {
  function setup(policy: Record<string, unknown> = { network: 'deny', allowedDomains: ['.stripe.com'] }) {
    const clock = { now: 0 };
    const ipNames = new IpNameTable({ now: () => clock.now });
    const decider = deciderFor(policy, { ipNames });
    return { clock, ipNames, decider };
  }

  it('grants an address resolved from an allowed name, until the TTL expires', () => {
    const { clock, ipNames, decider } = setup();
    ipNames.learn('52.1.2.3', ['api.stripe.com'], 30_000);

    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('grant:allowedDomains');
    clock.now = 29_999;
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('grant:allowedDomains');
    clock.now = 30_000;
    expect(decider.decide(connect('52.1.2.3'))).toMatchObject({
      verdict: 'deny',
      reason: 'network mode is "deny": 52.1.2.3 was not resolved from an allowed name',
    });
  });

  it('grants a cached denied address once it is learned from an allowed name', () => {
    const { ipNames, decider } = setup();
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('deny:mode');
    ipNames.learn('52.1.2.3', ['api.stripe.com'], 30_000);
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('grant:allowedDomains');
  });

  it('does not grant an address learned only from names that are not allowed', () => {
    const { ipNames, decider } = setup();
    ipNames.learn('52.1.2.3', ['evil.example'], 30_000);
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('deny:mode');
  });

  it('keeps an address granted while any allowed name for it is live', () => {
    const { clock, ipNames, decider } = setup();
    ipNames.learn('52.1.2.3', ['api.stripe.com'], 10_000);
    ipNames.learn('52.1.2.3', ['files.stripe.com'], 20_000);
    clock.now = 15_000;
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('grant:allowedDomains');
    clock.now = 20_000;
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('deny:mode');
  });

  it.each([['0x34010203'], ['[::ffff:3401:203]'], ['872481283']])(
    'matches the learned address in the spelling %s',
    (host) => {
      const { ipNames, decider } = setup();
      ipNames.learn('52.1.2.3', ['api.stripe.com'], 30_000);
      expect(verdictOf(decider.decide(connect(host)))).toBe('grant:allowedDomains');
    },
  );

  it('grants by the ip field when the host name is not allowed but the address came from an allowed name', () => {
    const { ipNames, decider } = setup();
    ipNames.learn('52.1.2.3', ['api.stripe.com'], 30_000);
    const op: Operation = {
      category: 'network',
      operation: 'connect',
      host: 'alias.example',
      ip: '52.1.2.3',
      port: 443,
    };
    expect(verdictOf(decider.decide(op))).toBe('grant:allowedDomains');
    const other: Operation = {
      category: 'network',
      operation: 'connect',
      host: 'alias.example',
      ip: '52.9.9.9',
      port: 443,
    };
    expect(decider.decide(other)).toMatchObject({
      verdict: 'deny',
      reason: expect.stringContaining('alias.example'),
    });
  });

  it('grants by the host name whatever the ip field', () => {
    const { decider } = setup();
    const op: Operation = {
      category: 'network',
      operation: 'connect',
      host: 'api.stripe.com',
      ip: '52.9.9.9',
      port: 443,
    };
    expect(verdictOf(decider.decide(op))).toBe('grant:allowedDomains');
  });

  it('judges a connection that only has an ip field through the table', () => {
    const { ipNames, decider } = setup();
    ipNames.learn('2001:db8::1', ['api.stripe.com'], 30_000);
    const op: Operation = {
      category: 'network',
      operation: 'send',
      ip: '2001:DB8::1',
      port: 443,
      protocol: 'udp',
    };
    expect(verdictOf(decider.decide(op))).toBe('grant:allowedDomains');
  });

  it('grants cloud-provider endpoints through the table as well', () => {
    const clock = { now: 0 };
    const ipNames = new IpNameTable({ now: () => clock.now });
    const decider = deciderFor(
      { network: 'deny', allowCloudProviderTraffic: true },
      { ipNames, provider: 'aws' },
    );
    ipNames.learn('52.1.2.3', ['sqs.us-east-1.amazonaws.com'], 5_000);
    expect(verdictOf(decider.decide(connect('52.1.2.3')))).toBe('grant:cloudProvider');
  });

  it('without a table, an address is judged by the mode', () => {
    expect(
      verdictOf(deciderFor({ network: 'deny', allowedDomains: ['.stripe.com'] }).decide(connect('52.1.2.3'))),
    ).toBe('deny:mode');
  });
});

describe('network: cloud-provider traffic', () => {
  it.each([
    [
      { network: 'deny', allowCloudProviderTraffic: true },
      'aws',
      'sqs.us-east-1.amazonaws.com',
      'grant:cloudProvider',
    ],
    [
      { network: 'deny', allowCloudProviderTraffic: true },
      'aws',
      'lambda.us-east-1.api.aws',
      'grant:cloudProvider',
    ],
    [{ network: 'deny', allowCloudProviderTraffic: true }, 'aws', 'amazonaws.com.evil.tld', 'deny:mode'],
    [
      { network: 'deny', allowCloudProviderTraffic: true },
      'aws',
      'ec2-1-2-3-4.compute-1.amazonaws.com',
      'deny:mode',
    ],
    [{ network: 'deny', allowCloudProviderTraffic: true }, 'aws', 'storage.googleapis.com', 'deny:mode'],
    [
      { network: 'deny', allowCloudProviderTraffic: true },
      'gcp',
      'storage.googleapis.com',
      'grant:cloudProvider',
    ],
    [
      { network: 'deny', allowCloudProviderTraffic: true },
      'azure',
      'management.azure.com',
      'grant:cloudProvider',
    ],
    [{ network: 'deny', allowCloudProviderTraffic: true }, null, 'sqs.us-east-1.amazonaws.com', 'deny:mode'],
    [
      { network: 'deny', allowCloudProviderTraffic: false },
      'aws',
      'sqs.us-east-1.amazonaws.com',
      'deny:mode',
    ],
    [
      { network: 'observe', allowCloudProviderTraffic: true },
      'aws',
      'sqs.us-east-1.amazonaws.com',
      'grant:cloudProvider',
    ],
    [
      { network: 'observe', allowCloudProviderTraffic: false },
      'aws',
      'sqs.us-east-1.amazonaws.com',
      'observe:mode',
    ],
  ] as const)('%j on %s: %s -> %s', (policy, provider, host, expected) => {
    expect(verdictOf(deciderFor(policy, { provider }).decide(connect(host)))).toBe(expected);
  });
});

describe('network: runtime traffic is never governed', () => {
  const options = {
    alwaysAllowedHosts: ['127.0.0.1:9001', 'extension.local', '[::1]:2772', '/tmp/.appdefender/sock'],
  };
  it.each([
    [connect('127.0.0.1', 9001), 'grant:runtime'],
    [connect('2130706433', 9001), 'grant:runtime'],
    [connect('0x7f000001', 9001), 'grant:runtime'],
    [connect('127.0.0.1', 9002), 'deny:mode'],
    [connect('0x7f000001', 9002), 'deny:mode'],
    [{ category: 'network', operation: 'connect', host: '127.0.0.1' }, 'deny:mode'],
    [connect('extension.local', 1), 'grant:runtime'],
    [connect('EXTENSION.LOCAL.', 80), 'grant:runtime'],
    [connect('::1', 2772), 'grant:runtime'],
    [connect('[::1]', 2772), 'grant:runtime'],
    [connect('::1', 2773), 'deny:mode'],
    [dns('extension.local'), 'grant:runtime'],
    [
      { category: 'network', operation: 'connect', protocol: 'pipe', path: '/tmp/.appdefender/sock' },
      'grant:runtime',
    ],
    [{ category: 'network', operation: 'connect', protocol: 'pipe', path: '/tmp/other.sock' }, 'deny:mode'],
  ] as Array<[Operation, string]>)('%j -> %s', (op, expected) => {
    expect(verdictOf(deciderFor({ network: 'deny' }, options).decide(op))).toBe(expected);
  });

  it.each([['host:99999'], [''], ['bad host:80']])('refuses the alwaysAllowedHosts entry %j', (entry) => {
    expect(() => deciderFor({}, { alwaysAllowedHosts: [entry] })).toThrow(/alwaysAllowedHosts entry/);
  });
});

describe('filesystem', () => {
  const policy = { filesystem: 'deny', allowedPaths: ['/tmp/cache/', '/var/task/data'] };
  const options = { appDirs: ['/var/task'], internalPaths: ['/tmp/.appdefender'] };
  it.each([
    [read('/tmp/cache'), 'grant:allowedPaths'],
    [read('/tmp/cache/a.json'), 'grant:allowedPaths'],
    [write('/tmp/cache/deep/a.json'), 'grant:allowedPaths'],
    [write('/tmp/cachex'), 'deny:mode'],
    [write('/tmp/cachex/a'), 'deny:mode'],
    [read('/var/task/data/x'), 'grant:allowedPaths'],
    [read('/var/task/index.js'), 'deny:mode'],
    [read('/var/taskforce/x'), 'grant:ungoverned'],
    [read('/etc/passwd'), 'grant:ungoverned'],
    [read('/opt/nodejs/node_modules/x.js'), 'grant:ungoverned'],
    [write('/tmp/.appdefender/events.ndjson'), 'grant:internal'],
    [write('/tmp/.appdefenderx'), 'deny:mode'],
    // the decider normalises again, so a traversal cannot ride an allowed prefix
    [read('/tmp/cache/../secret'), 'deny:mode'],
    [read('/tmp/cache/../../etc/passwd'), 'grant:ungoverned'],
    [read('//tmp//cache//a'), 'grant:allowedPaths'],
    // relative paths are a caller bug: judged as governed (fail closed)
    [read('tmp/x'), 'deny:mode'],
  ] as Array<[Operation, string]>)('%j -> %s', (op, expected) => {
    expect(verdictOf(deciderFor(policy, options).decide(op))).toBe(expected);
  });

  it('grants allowedPaths and ungoverned paths in observe mode without events', () => {
    const decider = deciderFor({ filesystem: 'observe', allowedPaths: ['/tmp/cache'] });
    expect(verdictOf(decider.decide(write('/tmp/cache/a')))).toBe('grant:allowedPaths');
    expect(verdictOf(decider.decide(write('/tmp/b')))).toBe('observe:mode');
    expect(verdictOf(decider.decide(read('/etc/hosts')))).toBe('grant:ungoverned');
  });

  it('names the governing directory in the reason', () => {
    expect(deciderFor({ filesystem: 'deny' }).decide(read('/var/task/.env'))).toEqual({
      verdict: 'deny',
      rule: 'mode',
      reason: 'filesystem mode is "deny": /var/task/.env is under /var/task, not in allowedPaths',
    });
  });

  it.each([[['var/task']], [[42]]])('refuses appDirs %j that are not absolute paths', (appDirs) => {
    expect(() => deciderFor({}, { appDirs: appDirs as string[] })).toThrow(
      /appDirs entry .* is not an absolute path/,
    );
  });
});

describe('process', () => {
  const policy = { process: 'deny', allowedCommands: ['/usr/bin/git', 'convert'] };
  it.each([
    [spawn('/usr/bin/git', ['status']), 'grant:allowedCommands'],
    [spawn('/usr/bin//git'), 'grant:allowedCommands'],
    [spawn('/usr/bin/../bin/git'), 'grant:allowedCommands'],
    [spawn('git'), 'deny:mode'],
    [spawn('/tmp/git'), 'deny:mode'],
    [spawn('/usr/bin/gitx'), 'deny:mode'],
    [spawn('convert'), 'grant:allowedCommands'],
    [spawn('/usr/bin/convert'), 'grant:allowedCommands'],
    [spawn('./convert'), 'grant:allowedCommands'],
    [spawn('/usr/bin/convertx'), 'deny:mode'],
    [spawn('/bin/sh', ['-c', 'convert a b']), 'deny:mode'],
    [{ category: 'process', operation: 'load', command: '/var/task/addon.node' }, 'deny:mode'],
  ] as Array<[Operation, string]>)('%j -> %s', (op, expected) => {
    expect(verdictOf(deciderFor(policy).decide(op))).toBe(expected);
  });

  it('grants allowed commands in observe mode without events', () => {
    expect(
      verdictOf(
        deciderFor({ process: 'observe', allowedCommands: ['/usr/bin/git'] }).decide(spawn('/usr/bin/git')),
      ),
    ).toBe('grant:allowedCommands');
  });
});

describe('caching', () => {
  it('answers repeated inputs from the cache with the same decision', () => {
    const decider = deciderFor({
      network: 'deny',
      filesystem: 'deny',
      process: 'deny',
      allowedDomains: ['.stripe.com'],
    });
    const ops = [connect('api.stripe.com'), connect('evil.example'), read('/tmp/x'), spawn('/bin/ls')];
    const first = ops.map((op) => decider.decide(op));
    const before = decider.stats();
    const second = ops.map((op) => decider.decide(op));

    expect(second).toEqual(first);
    for (const [index, decision] of second.entries()) expect(decision).toBe(first[index]);
    expect(decider.stats().hits - before.hits).toBe(ops.length);
    expect(decider.stats().misses).toBe(before.misses);
  });

  it('keys network decisions by host but still checks the port for runtime hosts', () => {
    const decider = deciderFor({ network: 'deny' }, { alwaysAllowedHosts: ['127.0.0.1:9001'] });
    expect(verdictOf(decider.decide(connect('127.0.0.1', 9001)))).toBe('grant:runtime');
    expect(verdictOf(decider.decide(connect('127.0.0.1', 9002)))).toBe('deny:mode');
    expect(verdictOf(decider.decide(connect('127.0.0.1', 9001)))).toBe('grant:runtime');
  });

  it('shares one filesystem cache entry between read and write (the decision does not depend on it)', () => {
    const decider = deciderFor({ filesystem: 'deny' });
    decider.decide(read('/tmp/x'));
    const { misses } = decider.stats();
    expect(decider.decide(write('/tmp/x')).verdict).toBe('deny');
    expect(decider.stats().misses).toBe(misses);
  });

  it('bounds each cache, still deciding correctly after evictions', () => {
    const decider = deciderFor({ network: 'deny', allowedDomains: ['.stripe.com'] }, { maxCacheEntries: 3 });
    for (let index = 0; index < 50; index++) decider.decide(connect(`host${index}.example`));
    expect(decider.stats().entries).toBeLessThanOrEqual(3);
    expect(verdictOf(decider.decide(connect('api.stripe.com')))).toBe('grant:allowedDomains');
    expect(verdictOf(decider.decide(connect('host0.example')))).toBe('deny:mode');
  });

  it('does not serve a cached IP grant past the TTL of the names behind it', () => {
    const clock = { now: 0 };
    const ipNames = new IpNameTable({ now: () => clock.now });
    const decider = deciderFor({ network: 'deny', allowedDomains: ['.stripe.com'] }, { ipNames });
    ipNames.learn('52.1.2.3', ['api.stripe.com'], 1_000);
    for (let index = 0; index < 3; index++) expect(decider.decide(connect('52.1.2.3')).verdict).toBe('grant');
    expect(decider.stats().ipRevalidations).toBe(1);
    clock.now = 1_000;
    expect(decider.decide(connect('52.1.2.3')).verdict).toBe('deny');
    expect(decider.stats().ipRevalidations).toBe(2);
  });

  it.each([[0], [-5], [1.5]])('refuses maxCacheEntries %j', (maxCacheEntries) => {
    expect(() => deciderFor({}, { maxCacheEntries })).toThrow(/maxCacheEntries must be a positive integer/);
  });
});

it('rejects an operation of an unknown category', () => {
  const decider = deciderFor({});
  expect(() => decider.decide({ category: 'clock' } as unknown as Operation)).toThrow(
    /unknown operation category "clock"/,
  );
});

it('refuses a policy that did not go through the validator', () => {
  const policy = { ...parsePolicyGroup({ name: 'p' }), network: 'block' as never };
  expect(() => createDecider(policy, { appDirs: [], provider: null })).toThrow(/policy.network is "block"/);
});

it('hands out frozen decisions, so a caller cannot corrupt the cache', () => {
  const decider = deciderFor({ network: 'deny' });
  expect(Object.isFrozen(decider.decide(connect('evil.example')))).toBe(true);
  expect(Object.isFrozen(decider.decide(read('/etc/passwd')))).toBe(true);
});

it('exposes the policy it decides for', () => {
  expect(deciderFor({ network: 'deny' }).policy.network).toBe('deny');
});
