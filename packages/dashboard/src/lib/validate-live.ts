import { validatePolicyGroup } from '@appdefender/policy';
import type { PolicyGroup } from '../api/types.js';

export interface LiveValidation {
  errors: { field: string; message: string; suggestion?: string | undefined }[];
  warnings: { field: string; message: string; suggestion?: string | undefined }[];
}

/**
 * Runs the policy engine's own validator in the browser, so the editor shows, as you type, the
 * same errors the server would refuse the group with and the engine's warnings about weak entries.
 */
export function validateLive(group: PolicyGroup): LiveValidation {
  const result = validatePolicyGroup(group);
  return result.ok
    ? { errors: [], warnings: result.warnings }
    : { errors: result.errors, warnings: result.warnings };
}
