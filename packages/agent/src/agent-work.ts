/**
 * Marks the agent's own work (writing events and hand-off files, resolving allowed names, reading a
 * package.json for attribution) so that hooks let it through untouched: the agent never governs or
 * reports itself, and cannot recurse into its own hooks. Everything the agent does under this mark
 * is synchronous at the point where a hook would see it, so a depth counter is exact.
 *
 * But the mark must not cover the APP's code. Node's internals, called by the agent's work, read
 * properties their plain objects do not have (`ctx.errno` after a failed write, `options.hints` in
 * dns.lookup, `req.callback = ...`), and an app that defined a getter or setter of that name on
 * Object.prototype runs its own code right there, inside the agent's work, where every hook would
 * wave it through (test/redteam-integrity.test.ts). So while the mark is set, a hook is only passed
 * when the stack from the hook down to `asAgentWork` holds nothing but the agent, Node's internals
 * and builtins; when the stack cannot be read for certain, the call is judged like the app's.
 */
import { agentFileName, callerFrames } from './attribution.js';

let depth = 0;
const startsWith = Function.prototype.call.bind(
  Function.prototype.bind,
  Function.prototype.call,
)(String.prototype.startsWith) as (text: string, prefix: string) => boolean;
const MAX_AGENT_WORK_FRAMES = 64;

export function isAgentWork(): boolean {
  return depth > 0 && onlyAgentWorkOnStack();
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

// asAgentWork's own name in the bundle (the bundler may rename it; the stack reports the real one)
const BOUNDARY = asAgentWork.name;

function onlyAgentWorkOnStack(): boolean {
  const frames = callerFrames(isAgentWork, MAX_AGENT_WORK_FRAMES);
  if (frames === null) return false;
  const agent = agentFileName();
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i] as { file: string; fn: string; evaluated: boolean };
    if (frame.evaluated) return false;
    if (frame.file === agent) {
      if (frame.fn === BOUNDARY) return true;
      continue;
    }
    // builtins ('') and Node's own modules run on the agent's behalf; anything else is the app's
    if (frame.file === '' || startsWith(frame.file, 'node:')) continue;
    return false;
  }
  return false;
}
