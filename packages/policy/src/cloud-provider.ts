import type { CloudProvider } from './types.js';

export const CLOUD_PROVIDER_ENDPOINTS: Readonly<Record<CloudProvider, readonly string[]>> = Object.freeze({
  aws: [],
  gcp: [],
  azure: [],
});

/** Which provider the process runs on, from its environment. */
export function detectCloudProvider(_env: Record<string, string | undefined>): CloudProvider | null {
  throw new Error('not implemented yet');
}
