/**
 * Advice on valid but weak policy entries: the warnings of `validatePolicyGroup`. Kept apart from the
 * validator's core so that code needing only `parsePolicyGroup` (the agent, where every byte parsed is
 * cold start) does not bundle it: esbuild drops this module when `validatePolicyGroup` is not imported.
 */
import type { ParsedDomainEntry } from './domain-match.js';
import type { PolicyAdvisor } from './validate-policy.js';

// Tokens that are part of countless unrelated host names: as *contains* entries they allow almost anything.
const GENERIC_TOKENS = /* @__PURE__ */ new Set([
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
const PUBLIC_SUFFIXES = /* @__PURE__ */ new Set([
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

const SHELLS = /* @__PURE__ */ new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ash',
  'ksh',
  'csh',
  'tcsh',
  'fish',
  'busybox',
  'env',
]);

/** Warning for an allowedCommands entry (normalised), if it is weak. */
export function commandWarning(command: string): DomainWarning | undefined {
  const base = command.slice(command.lastIndexOf('/') + 1);
  if (SHELLS.has(base)) {
    return {
      message: 'runs whatever command it is given (shell: true, "-c"), so it allows every command',
    };
  }
  if (!command.includes('/')) {
    return {
      message:
        'matches an executable of that name in any directory, including one written to /tmp; an absolute path is stricter',
      suggestion: `/usr/bin/${command}`,
    };
  }
  return undefined;
}

/** Warning for an allowedPaths entry (normalised) that grants a whole governed area. */
export function pathWarning(path: string): DomainWarning | undefined {
  if (path !== '/' && path !== '/tmp') return undefined;
  return {
    message: `grants every ${path === '/' ? '' : '/tmp '}path, which makes the filesystem policy moot there; name a subdirectory`,
    suggestion: '/tmp/cache',
  };
}

/** The advisor `validatePolicyGroup` passes to the validator core. */
export const policyAdvisor: PolicyAdvisor = {
  domain: domainEntryWarnings,
  command: commandWarning,
  path: pathWarning,
  field: closestField,
};

/** A known field the unknown `key` was probably meant to be (case or a typo of up to two letters). */
function closestField(key: string, knownFields: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { field: string; distance: number } | undefined;
  for (const field of knownFields) {
    const distance = field.toLowerCase() === lower ? 0 : editDistance(lower, field.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { field, distance };
  }
  return best?.field;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}
