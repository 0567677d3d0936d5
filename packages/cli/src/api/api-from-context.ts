import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { ApiClient } from './api-client.js';

/** The control plane client for a command; `needsToken` for admin calls (policy groups, events). */
export function apiClientFor(ctx: CommandContext, options: { needsToken: boolean }): ApiClient {
  const apiUrl = ctx.config.apiUrl;
  if (!apiUrl) {
    throw new UsageError('No control plane URL', {
      hint: `Pass --api-url, set ES_API_URL, or add "apiUrl" to ${ctx.config.configPath}`,
    });
  }
  const token = ctx.config.apiToken?.value;
  if (options.needsToken && !token) {
    throw new UsageError('No api token for the control plane', {
      hint: `Pass --api-token, set ES_API_TOKEN, or add "apiToken" to ${ctx.config.configPath} (sign-up shows it)`,
    });
  }
  return new ApiClient({ baseUrl: apiUrl.value, token, fetch: ctx.deps.fetch });
}
