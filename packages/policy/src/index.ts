/**
 * @appdefender/policy: the pure policy engine. Zero runtime dependencies and no Node built-ins, so it
 * bundles into the agent, the extension, the server and the dashboard alike.
 */
export {
  CLOUD_PROVIDER_CUSTOMER_HOSTS,
  CLOUD_PROVIDER_ENDPOINTS,
  detectCloudProvider,
  matchCloudEndpoint,
} from './cloud-provider.js';
export {
  type CachingDecider,
  createDecider,
  DEFAULT_MAX_CACHE_ENTRIES,
  type DeciderStats,
} from './decider.js';
export {
  type DomainEntryKind,
  type DomainEntryParse,
  matchDomain,
  type ParsedDomainEntry,
  parseDomainEntry,
} from './domain-match.js';
export { PolicyValidationError } from './errors.js';
export { createEvent, describeTarget, EVENT_LIMITS, validateEvent } from './events.js';
export { isIpAddress, MAX_HOSTNAME_LENGTH, normalizeHostname } from './hostname.js';
export { DEFAULT_IP_TABLE_MAX_ENTRIES, IpNameTable, type IpNameTableOptions } from './ip-name-table.js';
export { OBSERVE_ALL } from './observe-all.js';
export {
  isGovernedPath,
  isUnderDirectory,
  normalizeAbsolutePath,
  TMP_DIR,
  type ToAbsolutePathOptions,
  toAbsolutePath,
} from './paths.js';
export { commandWarning, type DomainWarning, domainEntryWarnings, pathWarning } from './policy-advice.js';
export type {
  AgentEvent,
  Category,
  CloudProvider,
  CreateEventInput,
  Decider,
  DeciderOptions,
  Decision,
  DecisionRule,
  EventValidationResult,
  FilesystemOperation,
  IpNameTableLike,
  Mode,
  NetworkOperation,
  NonGrantDecision,
  Operation,
  PolicyGroup,
  ProcessOperation,
  ValidationIssue,
  ValidationResult,
} from './types.js';
export { uuidv7 } from './uuidv7.js';
export {
  POLICY_GROUP_FIELDS,
  POLICY_LIMITS,
  type PolicyAdvisor,
  parsePolicyGroup,
  validatePolicyGroup,
} from './validate-policy.js';
