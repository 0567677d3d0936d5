/**
 * Host name normalisation. Every host the engine compares goes through here first, so that aliases
 * of one destination (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `::ffff:7f00:1`, `LOCALHOST.`)
 * collapse to one canonical string and cannot slip past a rule written for another spelling.
 *
 * We lean on the WHATWG URL host parser (global `URL`, present in Node and browsers, so the engine stays
 * free of Node built-ins): it implements UTS #46 IDN-to-ASCII and the same IPv4 number forms that
 * getaddrinfo/inet_aton accept, which is exactly what Node's `net` and `dns` will connect to.
 */
import {
  regExpMatch,
  regExpTest,
  stringCharCodeAt,
  stringEndsWith,
  stringIncludes,
  stringIndexOf,
  stringLastIndexOf,
  stringSlice,
  stringStartsWith,
  stringToLowerCase,
  urlHostnameOf,
} from './primordials.js';

/** Longest DNS name in presentation form (RFC 1035 §2.3.4 minus the root dot). */
export const MAX_HOSTNAME_LENGTH = 253;

// Plain ASCII names that need no URL parsing: lowercase letters, digits, '-', '_' and dots, no empty
// labels, and a last label that cannot be read as an IPv4 number (so the URL parser would leave it alone).
const PLAIN_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;
// Characters allowed in a host before URL parsing; anything else ('/', '#', '@', ':', '%', spaces,
// '*', …) would either be rejected or, worse, silently cut the host short (`evil.com#.stripe.com`).
const ASCII_HOST_CHARS = /^[A-Za-z0-9._-]+$/;
const NON_ASCII = /[^ -~]/; // anything but printable ASCII
// In a name with non-ASCII letters, the ASCII part may still only be letters, digits, '.', '-', '_'.
const NON_HOST_ASCII = /[ -,/:-@[-^`{-~]/;
const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
const ZONE_ID = /^[a-z0-9_.-]+$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

/**
 * Canonical form of a host name or IP address, or null when it is not a valid host.
 *
 * Lowercase, no trailing dot, IDN in ASCII (punycode) form, IPv6 without brackets and compressed,
 * IPv4-mapped IPv6 as plain IPv4, and IPv4 number aliases in dotted-decimal.
 *
 * @example normalizeHostname('0x7f000001') // '127.0.0.1'
 * @example normalizeHostname('[::FFFF:127.0.0.1]') // '127.0.0.1'
 * @example normalizeHostname('Bücher.DE.') // 'xn--bcher-kva.de'
 */
export function normalizeHostname(host: string): string | null {
  if (typeof host !== 'string' || host.length === 0 || host.length > 1024) return null;
  if (isPlainName(host)) return host;
  // Captured methods throughout (primordials.ts): the app may have replaced the prototypes' own.
  if (isDottedDecimal(host)) return host;
  if (stringCharCodeAt(host, 0) === 0x5b /* [ */) {
    return stringCharCodeAt(host, host.length - 1) === 0x5d /* ] */
      ? normalizeIpv6(stringSlice(host, 1, -1))
      : null;
  }
  if (stringIncludes(host, ':')) return normalizeIpv6(host);

  let name = stringEndsWith(host, '.') ? stringSlice(host, 0, -1) : host;
  if (name.length === 0) return null;
  // ASCII case folding is exactly what the URL parser would do for a pure-ASCII name, and much cheaper.
  if (regExpTest(ASCII_HOST_CHARS, name)) name = stringToLowerCase(name);

  if (regExpTest(PLAIN_NAME, name) && !regExpTest(NUMERIC_LABEL, lastLabel(name))) {
    return name.length <= MAX_HOSTNAME_LENGTH ? name : null;
  }
  if (hasControlCharacter(name)) return null;
  if (regExpTest(NON_ASCII, name)) {
    if (regExpTest(NON_HOST_ASCII, name)) return null;
  } else if (!regExpTest(ASCII_HOST_CHARS, name)) {
    return null;
  }
  name = parseUrlHost(name) ?? '';
  if (stringEndsWith(name, '.')) name = stringSlice(name, 0, -1);
  if (name.length === 0 || name.length > MAX_HOSTNAME_LENGTH) return null;
  // Empty labels ('a..b') are not resolvable names; the URL parser tolerates them, we do not.
  if (stringStartsWith(name, '.') || stringIncludes(name, '..')) return null;
  return name;
}

/**
 * A name that is already canonical, the common case: lowercase letters, digits, '-' and '_' in
 * labels joined by single dots, at most 253 characters, and a last label that cannot be read as an
 * IPv4 number (digits only, or `0x` and hex digits), so the URL parser would leave it as it is.
 * A loop rather than the regular expressions below: V8 compiles each of those at its first use,
 * which the agent paid at every cold start for a policy with allowed domains.
 */
export function isPlainName(text: string): boolean {
  const length = text.length;
  if (length === 0 || length > MAX_HOSTNAME_LENGTH) return false;
  let labelStart = 0;
  for (let index = 0; index < length; index++) {
    const code = stringCharCodeAt(text, index);
    if (code === 0x2e /* . */) {
      if (index === labelStart) return false; // an empty label, or a leading dot
      labelStart = index + 1;
    } else if (!isNameCharacter(code)) {
      return false;
    }
  }
  return labelStart < length && !isNumericLabel(text, labelStart);
}

function isNameCharacter(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x5f;
}

/** The label from `start` to the end is `[0-9]+` or `0x[0-9a-f]*`. */
function isNumericLabel(text: string, start: number): boolean {
  let index = start;
  const hex =
    text.length - start >= 2 &&
    stringCharCodeAt(text, start) === 0x30 &&
    stringCharCodeAt(text, start + 1) === 0x78;
  if (hex) index += 2;
  for (; index < text.length; index++) {
    const code = stringCharCodeAt(text, index);
    const digit = code >= 0x30 && code <= 0x39;
    if (!digit && !(hex && code >= 0x61 && code <= 0x66)) return false;
  }
  return true;
}

/** Is `host` (already normalised) an IPv4 or IPv6 address rather than a name? */
export function isIpAddress(host: string): boolean {
  return stringIncludes(host, ':') || isDottedDecimal(host);
}

/**
 * Canonical dotted-decimal IPv4, as the URL parser writes it: four numbers 0-255 without leading
 * zeros. A loop rather than a regular expression: V8 compiles a regular expression at its first
 * use, and this one, with its alternations, cost ~0.15 ms of every cold start of the agent.
 */
function isDottedDecimal(text: string): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let index = 0; index <= text.length; index++) {
    const code = index === text.length ? 0x2e /* . */ : stringCharCodeAt(text, index);
    if (code === 0x2e) {
      if (digits === 0 || parts === 4) return false;
      parts++;
      value = 0;
      digits = 0;
      continue;
    }
    if (code < 0x30 || code > 0x39 || (digits === 1 && value === 0)) return false;
    value = value * 10 + (code - 0x30);
    digits++;
    if (value > 255) return false;
  }
  return parts === 4;
}

function normalizeIpv6(address: string): string | null {
  // Zone ids (`fe80::1%eth0`) name a local interface; they are kept, lowercase, after the address.
  const percent = stringIndexOf(address, '%');
  const bare = percent === -1 ? address : stringSlice(address, 0, percent);
  const zone = percent === -1 ? '' : stringToLowerCase(stringSlice(address, percent + 1));
  if (percent !== -1 && !regExpTest(ZONE_ID, zone)) return null;
  if (!regExpTest(IPV6_CHARS, bare)) return null;
  const parsed = parseUrlHost(`[${bare}]`);
  if (parsed === null) return null;
  const canonical = stringSlice(parsed, 1, -1);
  const mapped = regExpMatch(MAPPED_IPV4, canonical);
  if (mapped) {
    const high = Number.parseInt(mapped[1]!, 16);
    const low = Number.parseInt(mapped[2]!, 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return zone ? `${canonical}%${zone}` : canonical;
}

function parseUrlHost(host: string): string | null {
  return urlHostnameOf(host);
}

// A loop, not /\p{Cc}/u: a Unicode property escape makes V8 load ICU data when it parses the module,
// which cost ~0.3 ms of cold start (bench/policy-decisions.mjs).
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = stringCharCodeAt(text, index);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

function lastLabel(name: string): string {
  return stringSlice(name, stringLastIndexOf(name, '.') + 1);
}
