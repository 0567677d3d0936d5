import { apiClientFor } from '../api/api-from-context.js';
import { OBSERVE_ALL_GROUP } from '../aws/constants.js';
import type { CommandContext } from '../context.js';
import { CliError, NotFoundError } from '../errors.js';

/**
 * Before pointing a function at a policy group, checks the control plane knows it (when an api
 * token is configured): a typo would otherwise only show as a failed fetch in the function's logs.
 */
export async function checkPolicyGroupKnown(ctx: CommandContext, group: string): Promise<void> {
  if (group === OBSERVE_ALL_GROUP || !ctx.config.apiUrl || !ctx.config.apiToken) return;
  const api = apiClientFor(ctx, { needsToken: true });
  try {
    await api.request('GET', `/api/v1/policy-groups/${encodeURIComponent(group)}`);
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new NotFoundError(`The policy group "${group}" does not exist on ${api.baseUrl.origin}`, {
        hint: 'Create it with `appdefender policy push FILE` or in the dashboard, or pick another with --group',
      });
    }
    if (error instanceof CliError) {
      ctx.out.warn(`could not check the policy group "${group}": ${error.message}`);
      return;
    }
    throw error;
  }
}
