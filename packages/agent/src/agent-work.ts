/**
 * Marks the agent's own work (writing events and hand-off files, resolving allowed names, reading a
 * package.json for attribution) so that hooks let it through untouched: the agent never governs or
 * reports itself, and cannot recurse into its own hooks. Everything the agent does under this mark
 * is synchronous at the point where a hook would see it, so a depth counter is exact.
 */
let depth = 0;

export function isAgentWork(): boolean {
  return depth > 0;
}

/** Runs `work` as the agent's own work; hooks called meanwhile pass straight to the originals. */
export function asAgentWork<T>(work: () => T): T {
  depth++;
  try {
    return work();
  } finally {
    depth--;
  }
}
