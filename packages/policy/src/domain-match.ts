/**
 * `allowedDomains` entries: parsing, normalisation, weak-entry warnings and matching (contract §1).
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
import { isIpAddress, MAX_HOSTNAME_LENGTH, normalizeHostname } from './hostname.js';

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

// Tokens that are part of countless unrelated host names: as *contains* entries they allow almost anything.
const GENERIC_TOKENS = new Set([
  'api',
  'www',
  'cdn',
  'app',
  'apps',
  'web',
  'com',
  'net',
  'org',
  'io',
  'dev',
  'prod',
  'test',
  'cloud',
  'static',
  'assets',
  'login',
  'auth',
  'mail',
  'data',
  'service',
  'services',
  'aws',
  'amazon',
  'google',
  'azure',
  'microsoft',
  'storage',
  's3',
  'lambda',
  'http',
  'https',
  'online',
  'host',
  'server',
]);

// Second-level public suffixes common enough to be worth a warning (full list: publicsuffix.org).
const PUBLIC_SUFFIXES = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'com.au',
  'net.au',
  'org.au',
  'co.jp',
  'ne.jp',
  'or.jp',
  'co.nz',
  'co.za',
  'com.br',
  'com.cn',
  'com.mx',
  'co.in',
  'co.kr',
  'com.tr',
  'com.sg',
  'com.hk',
  'com.tw',
  'eu.org',
]);

// Domains under which anyone can get a name of their own (buckets, apps, VMs): allowing the whole
// domain allows an attacker's host too.
const SHARED_HOSTING_DOMAINS = [
  'amazonaws.com',
  'cloudfront.net',
  'elasticbeanstalk.com',
  'on.aws',
  'awsapps.com',
  'azurewebsites.net',
  'cloudapp.net',
  'cloudapp.azure.com',
  'blob.core.windows.net',
  'web.core.windows.net',
  'azurestaticapps.net',
  'azureedge.net',
  'trafficmanager.net',
  'appspot.com',
  'run.app',
  'cloudfunctions.net',
  'web.app',
  'firebaseapp.com',
  'storage.googleapis.com',
  'googleusercontent.com',
  'herokuapp.com',
  'github.io',
  'githubusercontent.com',
  'vercel.app',
  'netlify.app',
  'workers.dev',
  'pages.dev',
  'ngrok.io',
  'ngrok-free.app',
  'glitch.me',
  'fly.dev',
  'onrender.com',
];

export interface DomainWarning {
  message: string;
  suggestion?: string;
}

/**
 * Warnings about an entry that is valid but matches more than its author probably meant, each with a
 * safer form when one can be derived. A leading dot (`.stripe.com`) matches the name and its subdomains only.
 */
export function domainEntryWarnings(parsed: ParsedDomainEntry): DomainWarning[] {
  const warnings: DomainWarning[] = [];
  const { kind, value } = parsed;
  if (parsed.note) warnings.push({ message: parsed.note });
  if (kind === 'contains') {
    if (value.includes('.')) {
      warnings.push({
        message: `matches any name containing '${value}', also '${value}.evil.example' and 'not${value}'; a leading dot matches '${value}' and its subdomains only`,
        suggestion: `.${value}`,
      });
    } else if (value.length <= 3 || GENERIC_TOKENS.has(value)) {
      warnings.push({
        message:
          'is part of countless unrelated host names, so it matches almost any host; name the domain instead',
        suggestion: `.${value}.example.com (the full domain with a leading dot)`,
      });
    } else {
      warnings.push({
        message: `matches any name containing '${value}', such as '${value}.evil.example'; anyone who owns a domain can create one`,
        suggestion: `.${value}.com (the full domain with a leading dot)`,
      });
    }
  }
  if (kind === 'prefix') {
    warnings.push({
      message: `matches any name starting with '${value}', such as '${value}evil.example'; anyone who owns a domain can create one`,
      suggestion: `${value}example.com (the full name) or .example.com (the owning domain)`,
    });
  }
  if (kind === 'suffix' || kind === 'domain') {
    const domain = kind === 'suffix' ? value.slice(1) : value;
    if (!domain.includes('.') || PUBLIC_SUFFIXES.has(domain)) {
      warnings.push({
        message: `matches every domain under the public suffix '.${domain}', whoever registered it`,
        suggestion: `.example.${domain} (your domain under it)`,
      });
    }
  }
  // Only when no broader problem was reported already (`*.com` also covers amazonaws.com, needlessly said).
  const alreadyBroad = warnings.length > 0 && !(kind === 'contains' && value.includes('.'));
  if (kind !== 'ip' && !alreadyBroad) {
    const shared = SHARED_HOSTING_DOMAINS.find((domain) => coversDomain(parsed, domain));
    if (shared) {
      warnings.push({
        message: `matches all of '${shared}', where anyone can get a host name of their own (buckets, apps, instances); name your own host instead`,
        suggestion: `.your-name.${shared}`,
      });
    }
  }
  return warnings;
}

/** Would `parsed` match every name under `domain`? */
function coversDomain(parsed: ParsedDomainEntry, domain: string): boolean {
  switch (parsed.kind) {
    case 'contains':
      return domain.includes(parsed.value);
    case 'suffix':
      return `.${domain}`.endsWith(parsed.value);
    case 'domain':
      return domain === parsed.value || domain.endsWith(`.${parsed.value}`);
    default:
      return false;
  }
}

/** Does a parsed entry match a normalised host? The one place the contract's match rules live. */
export function entryMatches(parsed: ParsedDomainEntry, host: string, hostIsIp: boolean): boolean {
  if (hostIsIp) return parsed.kind === 'ip' && parsed.value === host;
  switch (parsed.kind) {
    case 'contains':
      return host.includes(parsed.value);
    case 'suffix':
      return host.endsWith(parsed.value);
    case 'prefix':
      return host.startsWith(parsed.value);
    case 'domain':
      return (
        host === parsed.value ||
        (host.endsWith(parsed.value) && host.charCodeAt(host.length - parsed.value.length - 1) === 0x2e)
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
    for (const candidate of parsed) {
      if (entryMatches(candidate, host, hostIsIp)) return candidate.entry;
    }
    return null;
  };
}
