import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Paths to the sibling packages in the AppDefender checkout. The CLI's own root is two levels
 * above this file both in src/local/ (tests) and dist/local/ (the built binary).
 */
export const cliPackageDir = fileURLToPath(new URL('../../', import.meta.url));
export const layerPackageDir = fileURLToPath(new URL('../../../layer/', import.meta.url));
export const layerTreeDir = fileURLToPath(new URL('../../../layer/dist/layer/', import.meta.url));
export const layerDistDir = fileURLToPath(new URL('../../../layer/dist/', import.meta.url));
export const demoDir = fileURLToPath(new URL('../../demo/', import.meta.url));

const agentCandidates = [
  fileURLToPath(new URL('../../../agent/dist/agent.cjs', import.meta.url)),
  fileURLToPath(new URL('../../../layer/dist/layer/appdefender/agent.cjs', import.meta.url)),
];

/** The agent bundle `run` preloads: APPDEFENDER_AGENT, else the built agent, else the layer's copy. */
export function findAgent(
  env: NodeJS.ProcessEnv,
): { path: string; searched: string[] } | { path: undefined; searched: string[] } {
  const searched = env['APPDEFENDER_AGENT'] ? [env['APPDEFENDER_AGENT']] : agentCandidates;
  return { path: searched.find((candidate) => existsSync(candidate)), searched };
}
