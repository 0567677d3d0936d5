/**
 * The semantic half of input validation, delegated to the policy engine (the route's JSON schema
 * does the shape). Both halves report problems the same way: `{ field, message }`.
 */
import {
  type AgentEvent,
  OBSERVE_ALL,
  type PolicyGroup,
  validateEvent,
  validatePolicyGroup,
} from '@appdefender/policy';
import { type FieldProblem, validationFailed } from './errors.js';

export const PUBLIC_GROUP_NAME = OBSERVE_ALL.name;

/** The validated, normalised group and its warnings; throws a 400 `ApiError` naming every problem. */
export function checkPolicyGroup(input: unknown): { group: PolicyGroup; warnings: FieldProblem[] } {
  const result = validatePolicyGroup(input);
  if (!result.ok) {
    throw validationFailed(
      result.errors.map(toFieldProblem),
      `invalid policy group: ${describe(result.errors)}`,
    );
  }
  return { group: result.policy, warnings: result.warnings.map(toFieldProblem) };
}

export type EventCheck = { ok: true; event: AgentEvent } | { ok: false; message: string };

/** One event of an ingest batch: accepted as normalised by the engine, or why not. */
export function checkEvent(input: unknown): EventCheck {
  const result = validateEvent(input);
  if (!result.ok) return { ok: false, message: describe(result.errors) };
  if (!Number.isFinite(Date.parse(result.event.time))) {
    return { ok: false, message: 'time: not a parseable date-time' };
  }
  return { ok: true, event: result.event };
}

function toFieldProblem(issue: { field: string; message: string; suggestion?: string }): FieldProblem {
  return {
    field: issue.field,
    message: issue.suggestion ? `${issue.message} (${issue.suggestion})` : issue.message,
  };
}

function describe(issues: Array<{ field: string; message: string }>): string {
  return issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
}
