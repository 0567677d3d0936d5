// Runs every benchmark in this folder, one after another (they measure CPU and wall time, so never
// in parallel), after the build they read from. Each prints its own table of ratios against a
// baseline measured in the same run. Usage: npm run build && npm run bench [-- name-filter]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const scripts = readdirSync(benchDir)
  .filter((name) => name.endsWith('.mjs') && name !== 'run-all.mjs' && name.includes(filter))
  .sort();
if (scripts.length === 0) throw new Error(`no benchmark matches "${filter}"`);

const failed = [];
for (const script of scripts) {
  console.log(`\n=== ${script} ===`);
  const result = spawnSync(process.execPath, [`${benchDir}/${script}`], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(script);
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that failed: ${failed.join(', ')}`);
  process.exit(1);
}
