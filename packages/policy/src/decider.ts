import type { Decider, DeciderOptions, PolicyGroup } from './types.js';

/** Builds the decision function for a policy group, with bounded caches. */
export function createDecider(_policy: PolicyGroup, _options: DeciderOptions): Decider {
  throw new Error('not implemented yet');
}
