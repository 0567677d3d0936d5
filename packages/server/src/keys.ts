/**
 * Secrets handed to users: license keys (agents), api tokens (CLI) and session ids (browser).
 *
 * Format: `<prefix><32 base62 random chars><6 base62 checksum chars>`. The typed prefix tells a
 * human (and secret scanners) what leaked; the CRC-32 checksum lets us reject a mistyped or
 * truncated key without touching the database. Only the SHA-256 of a secret is ever stored:
 * secrets are 190 bits of randomness, so a fast hash is enough (no need for a password KDF).
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const SECRET_PREFIXES = {
  liveLicenseKey: 'adk_live_',
  temporaryLicenseKey: 'adk_temp_',
  apiToken: 'adt_',
  session: 'ads_',
} as const;

export type SecretKind = keyof typeof SECRET_PREFIXES;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;

function toBase62(value: number, length: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function checksumOf(prefix: string, body: string): string {
  return toBase62(crc32(prefix + body), CHECKSUM_LENGTH);
}

function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniformly distributed (248 = 62 * 4).
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A fresh secret of the given kind, e.g. `generateSecret('apiToken')` → `adt_…`. */
export function generateSecret(kind: SecretKind): string {
  const prefix = SECRET_PREFIXES[kind];
  const body = randomBase62(RANDOM_LENGTH);
  return prefix + body + checksumOf(prefix, body);
}

export type SecretParseResult =
  | { ok: true; kind: SecretKind }
  | { ok: false; reason: 'unknown-prefix' | 'malformed' | 'checksum-mismatch' };

const SECRET_BODY = new RegExp(`^[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

/** Checks prefix, length and checksum; no database involved. */
export function parseSecret(secret: string): SecretParseResult {
  const entry = Object.entries(SECRET_PREFIXES).find(([, prefix]) => secret.startsWith(prefix));
  if (!entry) return { ok: false, reason: 'unknown-prefix' };
  const [kind, prefix] = entry as [SecretKind, string];
  const rest = secret.slice(prefix.length);
  if (!SECRET_BODY.test(rest)) return { ok: false, reason: 'malformed' };
  const body = rest.slice(0, RANDOM_LENGTH);
  if (checksumOf(prefix, body) !== rest.slice(RANDOM_LENGTH))
    return { ok: false, reason: 'checksum-mismatch' };
  return { ok: true, kind };
}

/** The only form in which a secret is stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The last 4 characters, kept in clear so people can tell their keys apart in a list. They are
 * checksum characters, so they give away nothing of the random part.
 */
export function lastFourOf(secret: string): string {
  return secret.slice(-4);
}
