import type { PolicyGroup } from './types.js';

/** The public read-only group `observeAll.ability`: observes all three categories, allows everything. */
export const OBSERVE_ALL: Readonly<PolicyGroup> = Object.freeze({
  name: 'observeAll.ability',
  description:
    'Public read-only group: observes all network, filesystem and process activity and blocks nothing.',
  network: 'observe',
  filesystem: 'observe',
  process: 'observe',
  terminateOnDeny: false,
  allowCloudProviderTraffic: false,
  allowedDomains: Object.freeze([]) as unknown as string[],
  allowedPaths: Object.freeze([]) as unknown as string[],
  allowedCommands: Object.freeze([]) as unknown as string[],
});
