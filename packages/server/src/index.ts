/**
 * @appdefender/server: the AppDefender control plane.
 *
 * - `buildApp` builds the Fastify app (never listens),
 * - `openStorage` opens SQLite (dataDir) or PostgreSQL (databaseUrl), applying migrations,
 * - `startServer` does both and listens.
 */
export { type BuildAppOptions, buildApp, SERVER_VERSION } from './app.js';
export { ApiError, type FieldProblem } from './errors.js';
export { generateSecret, hashSecret, parseSecret, SECRET_PREFIXES, type SecretKind } from './keys.js';
export { DEFAULTS, LIMITS } from './limits.js';
export { type RunningServer, type StartServerOptions, startServer } from './server.js';
export { type OpenStorageOptions, openStorage } from './storage/open-storage.js';
export type {
  Account,
  BatchNotice,
  EventFilter,
  FunctionRecord,
  FunctionReport,
  Plan,
  Storage,
  StoredEvent,
  StoredPolicyGroup,
} from './storage/types.js';
