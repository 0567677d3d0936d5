/**
 * Who is calling. Agents present a license key; people present a session cookie (the dashboard)
 * or an api token (the CLI). Keys are checked for prefix and checksum before any lookup, then
 * looked up by hash.
 */
import type { FastifyRequest } from 'fastify';
import { type ApiError, forbidden, unauthorized } from './errors.js';
import { hashSecret, parseSecret } from './keys.js';
import type { LicenseKeyKind, Storage } from './storage/types.js';

export const SESSION_COOKIE = 'ad_session';

export interface UserPrincipal {
  accountId: string;
  via: 'session' | 'apiToken';
  sessionHash?: string;
}

export interface AgentPrincipal {
  accountId: string;
  keyKind: LicenseKeyKind;
  keyHash: string;
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw unauthorized('MALFORMED_AUTHORIZATION', 'the Authorization header must be "Bearer <key or token>"');
  }
  return match[1];
}

function checkSecretFormat(secret: string, what: string): ReturnType<typeof parseSecret> & { ok: true } {
  const parsed = parseSecret(secret);
  if (parsed.ok) return parsed;
  const why =
    parsed.reason === 'checksum-mismatch'
      ? 'its checksum does not match (mistyped or truncated?)'
      : parsed.reason === 'malformed'
        ? 'it has the wrong length or characters'
        : 'it has no known prefix (adk_live_, adk_temp_ or adt_)';
  throw unauthorized('MALFORMED_CREDENTIAL', `the ${what} is not valid: ${why}`);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A license key's `lastUsedAt` is written at most this often: agents authenticate every event
 * batch, and a write per batch would tax ingestion for a figure people read to the minute.
 */
export const LICENSE_KEY_USE_RESOLUTION_MS = 60_000;

/**
 * Cookie-authenticated changes must come from our own pages. Browsers send `Sec-Fetch-Site`
 * (and `Origin` on every non-GET fetch), which a cross-site page cannot forge; with neither
 * header we cannot tell, so we refuse (api tokens are the way for scripts).
 */
export function isSameOriginRequest(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  return originMatchesHost(origin, request.headers.host);
}

/** Compares as URLs so default ports match (`http://h:80` is `h`). */
function originMatchesHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const parsed = new URL(origin);
    return parsed.host === new URL(`${parsed.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** For routes without a session (login, sign-up): refuse only what is visibly cross-site. */
export function isVisiblyCrossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  return !originMatchesHost(origin, request.headers.host);
}

export function csrfRejected(): ApiError {
  return forbidden(
    'CSRF_REJECTED',
    'cookie-authenticated changes must come from the dashboard itself (same-origin Origin or Sec-Fetch-Site); scripts should use an api token',
  );
}

export interface Authenticator {
  user(request: FastifyRequest): Promise<UserPrincipal>;
  agent(request: FastifyRequest): Promise<AgentPrincipal>;
}

export function createAuthenticator(storage: Storage, now: () => number): Authenticator {
  return {
    async user(request) {
      const bearer = bearerOf(request);
      if (bearer !== undefined) {
        const parsed = checkSecretFormat(bearer, 'api token');
        if (parsed.kind !== 'apiToken') {
          throw forbidden(
            'WRONG_CREDENTIAL',
            'this route needs an api token (adt_…) or a login session; license keys only authenticate agents',
          );
        }
        const accountId = await storage.useApiToken(hashSecret(bearer), now());
        if (!accountId)
          throw unauthorized('UNKNOWN_CREDENTIAL', 'this api token is not known (revoked or mistyped)');
        return { accountId, via: 'apiToken' };
      }
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie) {
        const parsed = parseSecret(cookie);
        const sessionHash = hashSecret(cookie);
        const accountId =
          parsed.ok && parsed.kind === 'session' ? await storage.findSession(sessionHash, now()) : undefined;
        if (!accountId)
          throw unauthorized('SESSION_EXPIRED', 'the session has expired or was logged out; log in again');
        if (!SAFE_METHODS.has(request.method) && !isSameOriginRequest(request)) throw csrfRejected();
        return { accountId, via: 'session', sessionHash };
      }
      throw unauthorized('AUTHENTICATION_REQUIRED', 'log in, or send "Authorization: Bearer <api token>"');
    },

    async agent(request) {
      const bearer = bearerOf(request);
      if (bearer === undefined) {
        throw unauthorized(
          'AUTHENTICATION_REQUIRED',
          'agent routes need "Authorization: Bearer <license key>"',
        );
      }
      const parsed = checkSecretFormat(bearer, 'license key');
      if (parsed.kind !== 'liveLicenseKey' && parsed.kind !== 'temporaryLicenseKey') {
        throw forbidden('WRONG_CREDENTIAL', 'agent routes need a license key (adk_live_… or adk_temp_…)');
      }
      const keyHash = hashSecret(bearer);
      const record = await storage.findLicenseKey(keyHash);
      if (!record)
        throw unauthorized('UNKNOWN_CREDENTIAL', 'this license key is not known (revoked or mistyped)');
      if (record.expiresAt !== null && record.expiresAt <= now()) {
        throw unauthorized(
          'LICENSE_KEY_EXPIRED',
          `this temporary license key expired at ${new Date(record.expiresAt).toISOString()}; sign up for a free account`,
        );
      }
      const at = now();
      if (record.lastUsedAt === null || at - record.lastUsedAt >= LICENSE_KEY_USE_RESOLUTION_MS) {
        await storage.markLicenseKeyUsed(keyHash, at);
      }
      return { accountId: record.accountId, keyKind: record.kind, keyHash };
    },
  };
}
