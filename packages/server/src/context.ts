import type { Authenticator } from './auth.js';
import type { EventStreamHub } from './event-stream-hub.js';
import type { TokenBucketLimiter } from './rate-limiter.js';
import type { Storage } from './storage/types.js';

/** What the route modules share; built once by `buildApp`. */
export interface AppContext {
  storage: Storage;
  auth: Authenticator;
  now: () => number;
  agentLimiter: TokenBucketLimiter;
  temporaryKeyLimiter: TokenBucketLimiter;
  hub: EventStreamHub;
  temporaryKeyTtlMs: number;
  sessionTtlMs: number;
  /** Mark the session cookie `Secure` (behind HTTPS). */
  secureCookies: boolean;
}
