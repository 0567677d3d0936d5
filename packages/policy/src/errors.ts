import type { ValidationIssue } from './types.js';

/** Thrown by `parsePolicyGroup` when a policy group is invalid; `errors` names every field and reason. */
export class PolicyValidationError extends Error {
  readonly code = 'ERR_INVALID_POLICY' as const;
  readonly errors: ValidationIssue[];

  constructor(errors: ValidationIssue[], options?: { cause?: unknown }) {
    const summary = errors.map((issue) => `${issue.field || '(policy)'}: ${issue.message}`).join('; ');
    super(`invalid policy group: ${summary}`, options);
    this.name = 'PolicyValidationError';
    this.errors = errors;
  }
}
