import { PolicyValidationError } from './errors.js';
import type { PolicyGroup, ValidationResult } from './types.js';

/** Validates and normalises a policy group, collecting every problem. */
export function validatePolicyGroup(_input: unknown): ValidationResult {
  throw new Error('not implemented yet');
}

/** Like `validatePolicyGroup`, but returns the policy or throws `PolicyValidationError`. */
export function parsePolicyGroup(input: unknown): PolicyGroup {
  const result = validatePolicyGroup(input);
  if (!result.ok) throw new PolicyValidationError(result.errors);
  return result.policy;
}
