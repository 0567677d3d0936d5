/**
 * `allowedDomains` entries: parsing, normalisation and matching (contract §1). Weak-entry advice is in
 * policy-advice.ts.
 *
 * Entry forms and what they match (hosts are normalised first, see hostname.ts):
 *   stripe          contains:    any name containing `stripe` (api.stripe.com, but also stripe.evil.tld)
 *   *.stripe.com    ends-with:   names ending with `.stripe.com` (not stripe.com itself)
 *   lambda.*        starts-with: names starting with `lambda.`
 *   .stripe.com     domain:      stripe.com and every name ending with `.stripe.com` (our addition)
 *   203.0.113.7     ip:          exactly that address (entries that read as IP addresses)
 * Name patterns never match an IP address by substring: `1.2` must not allow `1.2.3.4`. A connection
 * to an IP is judged through the names it was resolved from (ip-name-table.ts).
 */
import { isIpAddress, isPlainName, MAX_HOSTNAME_LENGTH, normalizeHostname } from './hostname.js';
import { stringCharCodeAt, stringEndsWith, stringIncludes, stringStartsWith } from './primordials.js';

export type DomainEntryKind = 'contains' | 'suffix' | 'prefix' | 'domain' | 'ip';

export interface ParsedDomainEntry {
  /** The canonical entry string (what the normalised policy stores). */
  entry: string;
  kind: DomainEntryKind;
  /** What is compared: the fragment (contains), `.x` (suffix), `x.` (prefix), `x` (domain), the address (ip). */
  value: string;
  /** Why the canonical form differs from what was written, when it is not obvious. */
  note?: string;
}

export type DomainEntryParse =
  | { ok: true; parsed: ParsedDomainEntry }
  | { ok: false; message: string; suggestion?: string };

const FRAGMENT = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOST_PORT = /^(\[[^\]]*\]|[^:[\]]+):([0-9]*)$/;

/**
 * Parses one `allowedDomains` entry into its canonical form, or says precisely why it is unusable.
 * @example parseDomainEntry(' *.Stripe.COM. ') // { ok: true, parsed: { entry: '*.stripe.com', kind: 'suffix', value: '.stripe.com' } }
 */
export function parseDomainEntry(raw: string): DomainEntryParse {
  // the common entry ('api.stripe.com', 'localhost') needs none of the checks below (and none of
  // their regular expressions, which V8 compiles at first use: the agent's cold start pays for them)
  if (isPlainName(raw)) return { ok: true, parsed: { entry: raw, kind: 'contains', value: raw } };
  const text = raw.trim();
  if (text.length === 0) return { ok: false, message: 'is empty' };
  if (text.length > MAX_HOSTNAME_LENGTH + 2) {
    return { ok: false, message: `is longer than ${MAX_HOSTNAME_LENGTH} characters, the longest DNS name` };
  }
  if (/\s/.test(text)) {
    return { ok: false, message: 'contains whitespace; separate entries with commas or use a list' };
  }
  if (SCHEME.test(text)) {
    const host = text.replace(SCHEME, '').split(/[/?#]/, 1)[0]!.replace(/^.*@/, '');
    return {
      ok: false,
      message: 'is a URL; entries are host names, without scheme, port or path',
      suggestion: stripPort(host),
    };
  }
  if (text.includes('/')) {
    return {
      ok: false,
      message: 'contains a path; entries are host names and paths are not matched',
      suggestion: stripPort(text.slice(0, text.indexOf('/'))),
    };
  }
  if (text.includes('@')) {
    return { ok: false, message: "contains '@'; entries are host names, without user info" };
  }
  const hostPort = HOST_PORT.exec(text);
  if (hostPort && !isBareIpv6(text)) {
    return {
      ok: false,
      message: 'contains a port; entries are host names and ports are not matched',
      suggestion: hostPort[1]!,
    };
  }
  if (text.includes(':') || text.startsWith('[')) {
    const address = normalizeHostname(text);
    if (address === null || !isIpAddress(address))
      return { ok: false, message: 'is not a valid IPv6 address' };
    return { ok: true, parsed: { entry: address, kind: 'ip', value: address } };
  }
  if (/^[*.]+$/.test(text)) {
    return {
      ok: false,
      message: 'matches every host or none; to allow all network traffic set "network" to "grant"',
    };
  }

  const lower = text.toLowerCase();
  if (lower.startsWith('*.')) {
    if (lower.endsWith('.*')) return { ok: false, message: twoWildcards, suggestion: lower.slice(1, -2) };
    const body = wholeDomain(lower.slice(2));
    if (!body.ok) return body;
    return { ok: true, parsed: { entry: `*.${body.name}`, kind: 'suffix', value: `.${body.name}` } };
  }
  if (lower.endsWith('.*')) {
    if (lower.startsWith('.')) return { ok: false, message: twoWildcards, suggestion: lower.slice(0, -2) };
    const body = fragment(lower.slice(0, -2));
    if (!body.ok) return body;
    return { ok: true, parsed: { entry: `${body.name}.*`, kind: 'prefix', value: `${body.name}.` } };
  }
  if (lower.includes('*')) {
    return { ok: false, message: "'*' is only allowed as a leading '*.' or a trailing '.*'" };
  }
  if (lower.startsWith('.')) {
    const body = wholeDomain(lower.slice(1));
    if (!body.ok) return body;
    return { ok: true, parsed: { entry: `.${body.name}`, kind: 'domain', value: body.name } };
  }

  const asHost = normalizeHostname(lower);
  if (asHost !== null && isIpAddress(asHost)) {
    const note =
      asHost === lower
        ? undefined
        : `is read as the IP address ${asHost}, the way a connection to it would be`;
    return { ok: true, parsed: { entry: asHost, kind: 'ip', value: asHost, ...(note ? { note } : {}) } };
  }
  const body = fragment(lower.endsWith('.') ? lower.slice(0, -1) : lower);
  if (!body.ok) return body;
  return { ok: true, parsed: { entry: body.name, kind: 'contains', value: body.name } };
}

const twoWildcards = "uses both a leading '*.' and a trailing '.*'; one wildcard per entry";

function isBareIpv6(text: string): boolean {
  const address = normalizeHostname(text);
  return address?.includes(':') === true;
}

function stripPort(host: string): string {
  const match = HOST_PORT.exec(host);
  return match ? match[1]! : host;
}

type BodyResult = { ok: true; name: string } | { ok: false; message: string; suggestion?: string };

/** The domain after `*.` or a leading dot: must be a complete, valid host name (not an IP address). */
function wholeDomain(body: string): BodyResult {
  const name = normalizeHostname(body);
  if (name === null) return { ok: false, message: `'${body}' is not a valid domain name` };
  if (isIpAddress(name))
    return { ok: false, message: 'an IP address has no subdomains; write the address alone' };
  return { ok: true, name };
}

/** A name fragment (contains / starts-with): labels of letters, digits, '-' and '_', IDN converted to ASCII. */
function fragment(body: string): BodyResult {
  let text = body;
  if (/[^ -~]/.test(text)) {
    try {
      text = new URL(`http://${text}/`).hostname;
    } catch {
      return { ok: false, message: `'${body}' is not a valid internationalised name` };
    }
  }
  if (FRAGMENT.test(text)) return { ok: true, name: text };
  const bad = /[^a-z0-9_.-]/.exec(text);
  if (bad)
    return { ok: false, message: `contains the character '${bad[0]}', which cannot appear in a host name` };
  return { ok: false, message: "has an empty label ('..' or a leading or trailing dot)" };
}

/** Does a parsed entry match a normalised host? The one place the contract's match rules live. */
export function entryMatches(parsed: ParsedDomainEntry, host: string, hostIsIp: boolean): boolean {
  if (hostIsIp) return parsed.kind === 'ip' && parsed.value === host;
  // captured methods (primordials.ts): the app may have replaced String.prototype's own
  switch (parsed.kind) {
    case 'contains':
      return stringIncludes(host, parsed.value);
    case 'suffix':
      return stringEndsWith(host, parsed.value);
    case 'prefix':
      return stringStartsWith(host, parsed.value);
    case 'domain':
      return (
        host === parsed.value ||
        (stringEndsWith(host, parsed.value) &&
          stringCharCodeAt(host, host.length - parsed.value.length - 1) === 0x2e)
      );
    case 'ip':
      return false;
  }
}

/**
 * Does an `allowedDomains` entry match a host (contract §1)? Both are normalised first; an invalid entry
 * or host matches nothing.
 * @example matchDomain('stripe', 'API.Stripe.com.') // true
 * @example matchDomain('*.stripe.com', 'stripe.com') // false
 * @example matchDomain('1.2', '1.2.3.4') // false: name patterns never match IP addresses by substring
 */
export function matchDomain(entry: string, host: string): boolean {
  const parsed = parseDomainEntry(entry);
  const normalized = normalizeHostname(host);
  if (!parsed.ok || normalized === null) return false;
  return entryMatches(parsed.parsed, normalized, isIpAddress(normalized));
}

/**
 * Compiles normalised entries into one matcher returning the first matching entry (for the decision's
 * reason), or null. Hosts passed in must already be normalised.
 */
export function compileDomainMatcher(
  entries: readonly string[],
): (host: string, hostIsIp: boolean) => string | null {
  const parsed: ParsedDomainEntry[] = [];
  for (const entry of entries) {
    const result = parseDomainEntry(entry);
    if (result.ok) parsed.push(result.parsed);
  }
  return (host, hostIsIp) => {
    // an index loop: a `for...of` would ask the (replaceable) array iterator for the entries
    for (let index = 0; index < parsed.length; index++) {
      const candidate = parsed[index] as ParsedDomainEntry;
      if (entryMatches(candidate, host, hostIsIp)) return candidate.entry;
    }
    return null;
  };
}
