import { describe, expect, it } from 'vitest';
import { compileDomainMatcher, matchDomain, parseDomainEntry } from './domain-match.js';
import { domainEntryWarnings } from './policy-advice.js';

describe('matchDomain: the contract rules', () => {
  it.each([
    // contains by default
    ['stripe', 'api.stripe.com', true],
    ['stripe', 'stripe.com', true],
    ['stripe', 'example.com', false],
    // *.x ends with .x, not x itself
    ['*.stripe.com', 'api.stripe.com', true],
    ['*.stripe.com', 'a.b.stripe.com', true],
    ['*.stripe.com', 'stripe.com', false],
    ['*.stripe.com', 'evilstripe.com', false],
    ['*.stripe.com', 'stripe.com.evil.tld', false],
    // x.* starts with x.
    ['lambda.*', 'lambda.us-east-1.amazonaws.com', true],
    ['lambda.*', 'lambda', false],
    ['lambda.*', 'xlambda.us-east-1.amazonaws.com', false],
    ['lambda.*', 'lambdax.com', false],
    // leading dot: the domain and its subdomains, nothing else
    ['.stripe.com', 'stripe.com', true],
    ['.stripe.com', 'api.stripe.com', true],
    ['.stripe.com', 'evilstripe.com', false],
    ['.stripe.com', 'stripe.com.evil.tld', false],
    // names are compared normalised
    ['stripe', 'API.STRIPE.COM.', true],
    ['*.Stripe.COM', 'api.stripe.com', true],
    ['.bücher.de', 'www.xn--bcher-kva.de', true],
    ['xn--bcher-kva', 'bücher.de', true],
    // the weakness the validator warns about is real
    ['amazonaws.com', 'amazonaws.com.evil.tld', true],
  ])('%s vs %s -> %s', (entry, host, expected) => {
    expect(matchDomain(entry, host)).toBe(expected);
  });

  it.each([
    ['1.2', '1.2.3.4', 'a partial address does not substring-match an IP'],
    ['2.3', '1.2.3.4', 'nor does its middle'],
    ['0.0.1', '127.0.0.1', 'nor a suffix'],
    ['*.0.1', '127.0.0.1', 'wildcards are never applied to addresses'],
    ['127.*', '127.0.0.1', 'starts-with is never applied to addresses'],
    ['ffff', '::ffff:1.2.3.4', 'nor to IPv6'],
  ])('%s never matches %s (%s)', (entry, host) => {
    expect(matchDomain(entry, host)).toBe(false);
  });

  it.each([
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '2130706433', true],
    ['127.0.0.1', '0x7f000001', true],
    ['127.0.0.1', '0177.0.0.1', true],
    ['127.0.0.1', '127.1', true],
    ['127.0.0.1', '[::ffff:7f00:1]', true],
    ['2130706433', '127.0.0.1', true],
    ['::1', '[::1]', true],
    ['[2001:db8::1]', '2001:DB8:0::1', true],
    ['127.0.0.1', '127.0.0.2', false],
  ])('IP entry %s matches exactly: %s -> %s', (entry, host, expected) => {
    expect(matchDomain(entry, host)).toBe(expected);
  });

  it('matches nothing for an invalid entry or host', () => {
    expect(matchDomain('https://stripe.com', 'stripe.com')).toBe(false);
    expect(matchDomain('stripe', 'evil.com#stripe')).toBe(false);
  });
});

describe('parseDomainEntry: normalisation', () => {
  it.each([
    ['  Stripe.COM. ', 'stripe.com', 'contains'],
    ['*.Example.COM.', '*.example.com', 'suffix'],
    ['Lambda.*', 'lambda.*', 'prefix'],
    ['.Stripe.com', '.stripe.com', 'domain'],
    ['Bücher', 'xn--bcher-kva', 'contains'],
    ['*.bücher.de', '*.xn--bcher-kva.de', 'suffix'],
    ['0x7f000001', '127.0.0.1', 'ip'],
    ['[::1]', '::1', 'ip'],
    ['::ffff:7f00:1', '127.0.0.1', 'ip'],
    ['us-east-1.amazonaws', 'us-east-1.amazonaws', 'contains'],
  ])('%j -> %s (%s)', (raw, entry, kind) => {
    const result = parseDomainEntry(raw);
    expect(result).toMatchObject({ ok: true, parsed: { entry, kind } });
  });

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['str ipe.com', 'whitespace'],
    ['https://api.stripe.com/v1', 'is a URL'],
    ['stripe.com/v1', 'contains a path'],
    ['stripe.com:443', 'contains a port'],
    ['[::1]:443', 'contains a port'],
    ['user@stripe.com', "contains '@'"],
    ['*', 'matches every host'],
    ['*.', 'matches every host'],
    ['.*', 'matches every host'],
    ['*.*', 'matches every host'],
    ['.', 'matches every host'],
    ['*.stripe.*', 'one wildcard per entry'],
    ['.stripe.*', 'one wildcard per entry'],
    ['str*pe.com', "'*' is only allowed"],
    ['*stripe.com', "'*' is only allowed"],
    ['stripe.com*', "'*' is only allowed"],
    ['*.a..b', 'not a valid domain name'],
    ['*.1.2.3.4', 'an IP address has no subdomains'],
    ['a..b', 'empty label'],
    ['stri$pe', "the character '$'"],
    ['1::2::3', 'not a valid IPv6 address'],
    ['a'.repeat(300), 'longer than 253'],
  ])('%j is refused: %s', (raw, reason) => {
    const result = parseDomainEntry(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(reason);
  });

  it.each([
    ['https://api.stripe.com:443/v1', 'api.stripe.com'],
    ['stripe.com/v1', 'stripe.com'],
    ['stripe.com:443', 'stripe.com'],
  ])('suggests the host for %j', (raw, suggestion) => {
    expect(parseDomainEntry(raw)).toMatchObject({ ok: false, suggestion });
  });
});

describe('domainEntryWarnings: weak entries', () => {
  const warningsFor = (raw: string) => {
    const result = parseDomainEntry(raw);
    if (!result.ok) throw new Error(`test entry ${raw} is invalid: ${result.message}`);
    return domainEntryWarnings(result.parsed);
  };

  it.each([
    ['amazonaws.com', 'amazonaws.com.evil.example', '.amazonaws.com'],
    ['stripe.com', 'stripe.com.evil.example', '.stripe.com'],
    ['api', 'matches almost any host', undefined],
    ['s3', 'matches almost any host', undefined],
    ['io', 'matches almost any host', undefined],
    ['stripe', 'stripe.evil.example', undefined],
    ['lambda.*', 'lambda.evil.example', undefined],
    ['*.com', "public suffix '.com'", undefined],
    ['.io', "public suffix '.io'", undefined],
    ['*.co.uk', "public suffix '.co.uk'", undefined],
    ['.amazonaws.com', "all of 'amazonaws.com'", '.your-name.amazonaws.com'],
    ['*.herokuapp.com', "all of 'herokuapp.com'", '.your-name.herokuapp.com'],
    ['.windows.net', "all of 'blob.core.windows.net'", '.your-name.blob.core.windows.net'],
    ['127.1', 'read as the IP address 127.0.0.1', undefined],
  ])('%s warns: %s', (raw, message, suggestion) => {
    const warnings = warningsFor(raw);
    const warning = warnings.find((candidate) => candidate.message.includes(message));
    expect(warning, JSON.stringify(warnings)).toBeDefined();
    if (suggestion !== undefined) expect(warning?.suggestion).toBe(suggestion);
  });

  it.each([
    ['.stripe.com'],
    ['*.stripe.com'],
    ['api.stripe.com.'],
    ['203.0.113.7'],
    ['*.example.co.uk'],
    ['.s3.us-east-1.amazonaws.com'],
  ])('%s has no warning', (raw) => {
    const parsed = parseDomainEntry(raw);
    if (!parsed.ok) throw new Error(parsed.message);
    // api.stripe.com as contains still matches api.stripe.com.evil.example: only the leading-dot forms are quiet.
    const expected = parsed.parsed.kind === 'contains' ? 1 : 0;
    expect(warningsFor(raw)).toHaveLength(expected);
  });

  it('does not pile a shared-hosting warning onto a public-suffix one', () => {
    expect(warningsFor('*.com')).toHaveLength(1);
  });
});

describe('compileDomainMatcher', () => {
  it('returns the first matching entry, and applies only IP entries to addresses', () => {
    const match = compileDomainMatcher(['stripe', '.example.com', '10.0.0.5']);
    expect(match('api.stripe.com', false)).toBe('stripe');
    expect(match('www.example.com', false)).toBe('.example.com');
    expect(match('10.0.0.5', true)).toBe('10.0.0.5');
    expect(match('10.0.0.6', true)).toBeNull();
    expect(match('evil.tld', false)).toBeNull();
  });
});
