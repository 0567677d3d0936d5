/**
 * @appdefender/policy: the pure policy engine (zero runtime dependencies, no Node built-ins, so it
 * bundles into the agent, the extension, the server and the dashboard alike).
 */
export { CLOUD_PROVIDER_ENDPOINTS, detectCloudProvider } from './cloud-provider.js';
export { createDecider } from './decider.js';
export { matchDomain } from './domain-match.js';
export { PolicyValidationError } from './errors.js';
export { createEvent, describeTarget, validateEvent } from './events.js';
export { normalizeHostname } from './hostname.js';
export { IpNameTable } from './ip-name-table.js';
export { OBSERVE_ALL } from './observe-all.js';
export { isGovernedPath, toAbsolutePath } from './paths.js';
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
export { parsePolicyGroup, validatePolicyGroup } from './validate-policy.js';
