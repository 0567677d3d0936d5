import { describe, expect, it } from 'vitest';
import { isIpAddress, normalizeHostname } from './hostname.js';

describe('normalizeHostname', () => {
  it.each([
    // case and trailing dot
    ['API.Stripe.COM', 'api.stripe.com'],
    ['api.stripe.com.', 'api.stripe.com'],
    ['LOCALHOST.', 'localhost'],
    ['my_host.internal', 'my_host.internal'],
    // IDN to ASCII (UTS #46), including full-width dots
    ['Bücher.DE', 'xn--bcher-kva.de'],
    ['bücher.de.', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['例え。テスト', 'xn--r8jz45g.xn--zckzah'],
    // numeric IPv4 aliases, the forms inet_aton (and so Node's connect) accepts
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    // IPv6: brackets stripped, compressed, lowercase; IPv4-mapped becomes IPv4
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['[2001:DB8:0:0:0:0:0:1]', '2001:db8::1'],
    ['[::ffff:7f00:1]', '127.0.0.1'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['[::ffff:169.254.169.254]', '169.254.169.254'],
    ['fe80::1%ETH0', 'fe80::1%eth0'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeHostname(input)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['.', 'only a dot'],
    ['a..b', 'empty label'],
    ['.a.com', 'leading dot'],
    ['evil.com#.stripe.com', 'fragment would cut the host short'],
    ['evil.com/.stripe.com', 'path'],
    ['user@stripe.com', 'user info'],
    ['stripe.com:443', 'port'],
    [' stripe.com', 'leading space'],
    ['stripe.com ', 'trailing space'],
    ['str ipe.com', 'inner space'],
    ['*.stripe.com', 'wildcard'],
    ['a%41.com', 'percent-encoding'],
    ['a\u0000b.com', 'NUL'],
    ['foo.123', 'numeric last label that is no IPv4'],
    ['256.1.1.1', 'IPv4 octet out of range'],
    ['08.0.0.1', 'invalid octal'],
    ['[::1', 'unclosed bracket'],
    ['[nothex]', 'bad IPv6'],
    ['1:2:3:4:5:6:7:8:9', 'too many IPv6 groups'],
    ['bücher/.de', 'non-ASCII with a slash'],
    [`${'a'.repeat(63)}.`.repeat(4) + 'com', 'longer than 253'],
  ])('%j is not a host (%s)', (input) => {
    expect(normalizeHostname(input)).toBeNull();
  });

  it('accepts a 253-character name', () => {
    const name = `${'a'.repeat(61)}.`.repeat(4) + 'abcde';
    expect(name).toHaveLength(253);
    expect(normalizeHostname(name)).toBe(name);
  });

  it('returns null for a non-string instead of throwing', () => {
    expect(normalizeHostname(undefined as unknown as string)).toBeNull();
  });
});

describe('isIpAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['::1', true],
    ['fe80::1%eth0', true],
    ['localhost', false],
    ['1.2.3.example', false],
    // dotted decimal exactly as the URL parser writes it, nothing else
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['10.200.9.1', true],
    ['256.1.1.1', false],
    ['1.2.3.300', false],
    ['01.2.3.4', false],
    ['1.2.3.00', false],
    ['1.2.3', false],
    ['1.2.3.4.5', false],
    ['1.2.3.4.', false],
    ['.1.2.3.4', false],
    ['1..2.3', false],
    ['1.2.3.4a', false],
    ['1.2.3.-4', false],
    ['', false],
    ['1000.1.1.1', false],
  ])('%s -> %s', (host, expected) => {
    expect(isIpAddress(host)).toBe(expected);
  });
});
